"""Helpers shared by the protocol/auth/limits/lifecycle/async e2e tests.

Everything here talks to the real binary through public clients only: the Python
`websockets` library, urllib, PyJWT for hand-made tokens, and (for clients that must
misbehave: never answer pings, stop reading) a minimal raw RFC 6455 client on plain
sockets.

Every message received is validated against docs/asyncapi.yaml: on `websockets`
connections by conftest's `validate_every_message` (it wraps recv/send, which all the
receive helpers below go through), on RawWs by RawWs itself. A message that does not
validate raises protocol_schema.SchemaViolation with the schema error.
"""
from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import hmac
import json
import os
import re
import socket
import struct
import time

import websockets
from websockets.exceptions import ConnectionClosed

from conftest import SECRET
from protocol_schema import ProtocolChecker

ISO_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")


def is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def parse_iso_z(s: str) -> dt.datetime:
    assert isinstance(s, str) and ISO_Z.match(s), f"not an ISO-8601 UTC 'Z' timestamp: {s!r}"
    return dt.datetime.fromisoformat(s.replace("Z", "+00:00"))


# -- connecting ------------------------------------------------------------------

def connect(url: str, **kw):
    """websockets.connect with test-friendly defaults (no proxy, no compression,
    no client pings, unlimited incoming size)."""
    kw.setdefault("proxy", None)
    kw.setdefault("compression", None)
    kw.setdefault("ping_interval", None)
    kw.setdefault("max_size", None)
    kw.setdefault("open_timeout", 10)
    kw.setdefault("close_timeout", 5)
    return websockets.connect(url, **kw)


async def send(ws, msg) -> None:
    await ws.send(msg if isinstance(msg, (str, bytes)) else json.dumps(msg))


async def request(ws, id_, action, payload=None, metadata=None) -> None:
    m = {"id": id_, "action": action}
    if payload is not None:
        m["payload"] = payload
    if metadata is not None:
        m["metadata"] = metadata
    await send(ws, m)


async def recv(ws, timeout=10.0) -> dict:
    """The next message, parsed (and validated, see the module docstring)."""
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def call(ws, id_, action, payload=None, metadata=None, timeout=10.0) -> dict:
    """Sends one request and returns the first message that answers it."""
    await request(ws, id_, action, payload, metadata)
    _, last = await recv_for(ws, id_, lambda m: True, timeout)
    return last


async def spin_supported(ws) -> bool:
    """Does echo accept "spin_ms" (busy work) in --enable-fault-injection mode?"""
    msg = await call(ws, "spin-probe", "echo", {"spin_ms": 300}, timeout=15)
    assert msg.get("type") == "response" and msg["response"]["status"] == "success", msg
    return msg["response"]["metadata"]["processing_time"] >= 0.25


def request_id_of(msg: dict):
    t = msg.get("type")
    body = msg.get(t) if isinstance(t, str) else None
    return body.get("request_id") if isinstance(body, dict) else None


def is_terminal(msg: dict) -> bool:
    return msg.get("type") in ("result", "error")


async def recv_for(ws, rid, predicate, timeout=30.0, others=None):
    """Reads messages until one about request `rid` satisfies predicate. Returns
    (messages about rid, the last one). Messages about other requests go to
    `others` (a list) when given."""
    mine = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        left = deadline - loop.time()
        if left <= 0:
            raise asyncio.TimeoutError(f"no matching message for {rid!r}; got {mine[-5:]}")
        msg = await recv(ws, left)
        if request_id_of(msg) == rid:
            mine.append(msg)
            if predicate(msg):
                return mine, msg
        elif others is not None:
            others.append(msg)


async def until_terminal(ws, rid, timeout=30.0, others=None):
    return await recv_for(ws, rid, is_terminal, timeout, others)


async def snapshot_when_waiting_for_retry(ws, rid, tries=50) -> dict:
    """Polls `subscribe` for `rid` (every 0.1 s, at most `tries` times) until its first
    attempt has failed and it is queued for the retry; returns the last snapshot, which
    the caller asserts on."""
    for _ in range(tries):
        snap = assert_success(await call(ws, "s", "subscribe", {"request_id": rid}), "s")
        if snap["attempts"] == 1 and snap["status"] == "queued":
            break
        await asyncio.sleep(0.1)
    return snap


async def wait_until(predicate, timeout: float, sample=None, what=""):
    """Polls predicate() every 50 ms (calling sample() first, when given) until it holds;
    fails the test after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if sample:
            sample()
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def collect_terminals(ws, rids, timeout=60.0):
    """Reads until every id in rids has a result/error. Returns (all msgs by id)."""
    want = set(rids)
    by_id: dict = {r: [] for r in rids}
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while want:
        left = deadline - loop.time()
        if left <= 0:
            raise asyncio.TimeoutError(f"still waiting for {sorted(want)[:10]} ({len(want)} left)")
        msg = await recv(ws, left)
        rid = request_id_of(msg)
        if rid in by_id:
            by_id[rid].append(msg)
            if is_terminal(msg):
                want.discard(rid)
    return by_id


async def expect_close(ws, timeout=10.0):
    """Reads until the server closes. Returns (messages before the close, close code,
    close reason). Code is None when the TCP connection died without a close frame."""
    msgs = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    try:
        while True:
            left = deadline - loop.time()
            if left <= 0:
                raise AssertionError(f"server did not close within {timeout}s; got {msgs[-5:]}")
            msgs.append(await recv(ws, left))
    except ConnectionClosed as e:
        rcvd = e.rcvd
        return msgs, (rcvd.code if rcvd else None), (rcvd.reason if rcvd else None)


async def expect_rejected(url: str, timeout=10.0, **kw):
    """Connects (the upgrade must succeed) and returns (messages, close code)."""
    async with connect(url, **kw) as ws:
        msgs, code, _ = await expect_close(ws, timeout)
        return msgs, code


def assert_error(msg: dict, code: str, request_id, **details):
    assert msg.get("type") == "error", msg
    err = msg["error"]
    assert set(err) >= {"request_id", "code", "message", "details"}, err
    assert err["request_id"] == request_id, err
    assert err["code"] == code, err
    assert isinstance(err["message"], str) and err["message"], err
    assert isinstance(err["details"], dict), err
    assert isinstance(err["details"].get("retryable"), bool), f"details.retryable missing: {err}"
    for k, v in details.items():
        assert err["details"].get(k) == v, f"details.{k}: want {v!r}, got {err}"
    return err


def assert_success(msg: dict, request_id) -> dict:
    assert msg.get("type") == "response", msg
    r = msg["response"]
    assert r["request_id"] == request_id, r
    assert r["status"] == "success", r
    return r["data"]


def assert_queued(msg: dict, request_id, resend=False) -> dict:
    assert msg.get("type") == "response", msg
    r = msg["response"]
    assert set(r) == {"request_id", "status", "message", "estimated_duration"}, r
    assert r["request_id"] == request_id, r
    assert r["status"] == "queued", r
    if resend:  # the server may word the answer to a re-sent id differently
        assert isinstance(r["message"], str) and r["message"], r
    else:
        assert r["message"] == "Request queued for processing", r
    assert is_number(r["estimated_duration"]) and r["estimated_duration"] >= 0, r
    return r


# -- tokens ---------------------------------------------------------------------

def claims(sub="user-1", tenant="tenant-1", permissions=("read", "write"), ttl=3600, **extra):
    now = int(time.time())
    c = {"sub": sub, "tenant_id": tenant, "iat": now, "exp": now + ttl}
    if permissions is not None:
        c["permissions"] = list(permissions)
    c.update(extra)
    return {k: v for k, v in c.items() if v is not None}


def jwt_encode(payload: dict, key=SECRET, alg="HS256", headers=None) -> str:
    import jwt
    return jwt.encode(payload, key, algorithm=alg, headers=headers)


def b64url(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def raw_jwt(header: dict, payload: dict, signing_key: bytes | None, hash_name="sha256") -> str:
    """Hand-made HMAC token (or unsigned when signing_key is None), for tokens PyJWT
    refuses to make: alg none with a signature, HS signed with a PEM public key."""
    h = b64url(json.dumps(header, separators=(",", ":")).encode())
    p = b64url(json.dumps(payload, separators=(",", ":")).encode())
    if signing_key is None:
        return f"{h}.{p}."
    sig = hmac.new(signing_key, f"{h}.{p}".encode(), getattr(hashlib, hash_name)).digest()
    return f"{h}.{p}.{b64url(sig)}"


# -- process / metrics ----------------------------------------------------------

def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def parse_metrics(text: str) -> dict:
    """{(name, frozenset(labels.items())): value} from Prometheus text format."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\d+)?$', line)
        assert m, f"bad metrics line: {line!r}"
        labels = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', m.group(3) or ""))
        out[(m.group(1), frozenset(labels.items()))] = float(m.group(4))
    return out


def metric(metrics: dict, name: str, **labels) -> float:
    """Sum of samples of `name` whose labels include `labels`."""
    total, found = 0.0, False
    for (n, ls), v in metrics.items():
        if n == name and set(labels.items()) <= set(ls):
            total += v
            found = True
    assert found, f"metric {name}{labels} not exported"
    return total


def get_metrics(server) -> dict:
    status, _, body = server.http_get("/metrics")
    assert status == 200
    return parse_metrics(body.decode())


# -- a raw RFC 6455 client (for clients that must misbehave) ----------------------

def xor_mask(data: bytes, mask: bytes) -> bytes:
    n = len(data)
    if n == 0:
        return b""
    key = (mask * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "big") ^ int.from_bytes(key, "big")).to_bytes(n, "big")


class RawWs:
    """A blocking WebSocket client on a plain socket. It never answers pings by
    itself and reads only when asked, so it can play a silent or a slow client.
    Text messages it reads are validated against docs/asyncapi.yaml."""

    def __init__(self, port: int, path: str, headers: dict | None = None, rcvbuf: int | None = None,
                 host="127.0.0.1", timeout=10.0):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect((host, port))
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [f"GET {path} HTTP/1.1", f"Host: {host}:{port}", "Upgrade: websocket",
                 "Connection: Upgrade", f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13"]
        for k, v in (headers or {}).items():
            lines.append(f"{k}: {v}")
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("closed during handshake")
            self.buf += chunk
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        status = head.split(b"\r\n", 1)[0]
        if b" 101 " not in status + b" ":
            raise ConnectionError(f"handshake refused: {head!r}")
        accept = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest())
        assert accept in head, head
        self.checker = ProtocolChecker()

    def send_frame(self, opcode: int, data: bytes) -> None:
        self.send_frame_raw(True, opcode, data)

    def send_frame_raw(self, fin: bool, opcode: int, data: bytes) -> None:
        hdr = bytes([(0x80 if fin else 0) | opcode])
        n = len(data)
        if n < 126:
            hdr += bytes([0x80 | n])
        elif n < 65536:
            hdr += bytes([0x80 | 126]) + struct.pack("!H", n)
        else:
            hdr += bytes([0x80 | 127]) + struct.pack("!Q", n)
        mask = os.urandom(4)
        self.sock.sendall(hdr + mask + xor_mask(data, mask))

    def send_json(self, obj) -> None:
        text = json.dumps(obj)
        self.checker.sent(text)
        self.send_frame(0x1, text.encode())

    def send_echoes_unread(self, count: int, blob: str, timeout: float = 2.0) -> None:
        """Sends `count` echo requests of `blob` and reads none of the replies; stops
        early once the server no longer takes bytes (send timeout) or closed us."""
        self.sock.settimeout(timeout)
        try:
            for i in range(count):
                self.send_json({"id": f"e{i}", "action": "echo", "payload": {"blob": blob}})
        except (socket.timeout, OSError):
            pass

    def _need(self, n: int) -> bytes:
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_frame(self):
        """Returns (fin, opcode, payload). Raises EOFError on TCP close."""
        b0, b1 = self._need(2)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", self._need(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", self._need(8))[0]
        if b1 & 0x80:
            mask = self._need(4)
            data = xor_mask(self._need(n), mask)
        else:
            data = self._need(n)
        return bool(b0 & 0x80), b0 & 0x0F, data

    def read_message(self):
        """Next data message as ("text", dict) or a control frame as ("ping"|"pong"|
        "close", payload). Fragmented messages are reassembled."""
        parts, first_op = [], None
        while True:
            fin, op, data = self.read_frame()
            if op == 0x9:
                return "ping", data
            if op == 0xA:
                return "pong", data
            if op == 0x8:
                code = struct.unpack("!H", data[:2])[0] if len(data) >= 2 else None
                return "close", code
            if op != 0x0:
                first_op = op
            parts.append(data)
            if fin:
                if first_op == 0x1:
                    return "text", self.checker.received(b"".join(parts).decode())
                return "binary", json.loads(b"".join(parts))

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
