"""Bounds on what a client can hold at the gateway (README configuration table,
docs/protocol.md "Rate limits" and "HTTP refusals", docs/process_data.md "Upload"):

- PUT /files is authenticated on its header: refused uploads are answered without the
  server reading (or buffering) their body; admitted bodies are streamed to disk, may
  be slow but not stalled, and are capped per user and per address;
- accept() out of file descriptors backs off instead of spinning, logs little, and
  /healthz still answers;
- a client that does not read is closed after --send-timeout even though it keeps
  sending pings; an unfinished fragmented message is closed after --fragment-timeout;
- refused HTTP requests get an answer (431, 400); over-rate messages are dropped
  unparsed; a 64-bit frame length with its top bit set is a protocol error (1002);
  upload paths are percent-decoded once.
"""
from __future__ import annotations

import hashlib
import json
import os
import resource
import socket
import struct
import threading
import time

import pytest

from helpers_e2e import RawWs, get_metrics, metric, rss_kb

# -- raw HTTP -------------------------------------------------------------------------


def http_head(port: int, path: str, token: str | None, length: int, extra: str = "") -> bytes:
    lines = [f"PUT {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Content-Type: application/octet-stream",
             f"Content-Length: {length}"]
    if token:
        lines.append(f"Authorization: Bearer {token}")
    return ("\r\n".join(lines) + "\r\n" + extra + "\r\n").encode()


def read_response(sock: socket.socket, timeout=10.0) -> tuple[int, dict | bytes]:
    """Reads one HTTP response (Content-Length framed); returns (status, JSON or raw
    body). Returns (-1, b"") when the connection ends before a status line."""
    sock.settimeout(timeout)
    buf = b""
    try:
        while b"\r\n\r\n" not in buf:
            chunk = sock.recv(65536)
            if not chunk:
                return -1, buf
            buf += chunk
        head, body = buf.split(b"\r\n\r\n", 1)
        length = 0
        for line in head.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"content-length":
                length = int(v.strip())
        while len(body) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
    except (ConnectionResetError, socket.timeout):
        if b"\r\n\r\n" not in buf:
            return -1, buf
        head, body = buf.split(b"\r\n\r\n", 1)
    status = int(head.split(b" ", 2)[1])
    try:
        return status, json.loads(body)
    except ValueError:
        return status, body


def send_raw(port: int, data: bytes) -> tuple[int, dict | bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        return read_response(s)


def connections_gauge(server) -> float:
    return metric(get_metrics(server), "streamer_connections_open")


# -- uploads --------------------------------------------------------------------------


def test_unauthenticated_uploads_get_401_without_the_body_being_read(start_server):
    """20 concurrent 50 MB uploads without a token: each gets 401 on its header and is
    closed; the server never buffers the bodies (RSS stays bounded)."""
    s = start_server()
    pid = s.proc.pid
    rss0 = rss_kb(pid)
    body_size, n_clients = 50 << 20, 20
    chunk = b"z" * (1 << 20)
    results: list[tuple[int, int]] = []  # (status, body bytes the client managed to send)
    lock = threading.Lock()

    def client():
        with socket.create_connection(("127.0.0.1", s.port), timeout=10) as c:
            c.sendall(http_head(s.port, "/files/big.bin", None, body_size))
            sent = 0
            try:
                while sent < body_size:  # a hostile client sends its body regardless
                    c.sendall(chunk)
                    sent += len(chunk)
            except (BrokenPipeError, ConnectionResetError, socket.timeout):
                pass
            status, _ = read_response(c)
            with lock:
                results.append((status, sent))

    threads = [threading.Thread(target=client) for _ in range(n_clients)]
    peak = rss0
    t0 = time.monotonic()
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads) and time.monotonic() - t0 < 45:
        peak = max(peak, rss_kb(pid))
        time.sleep(0.02)
    for t in threads:
        t.join(timeout=15)
    growth_mb = (peak - rss0) / 1024
    print(f"RSS {rss0 / 1024:.1f} -> {peak / 1024:.1f} MB; sent per client (MB): "
          f"{sorted(r[1] >> 20 for r in results)}")
    assert growth_mb < 40, f"server RSS grew by {growth_mb:.0f} MB for unauthenticated uploads"
    assert len(results) == n_clients
    assert all(st == 401 for st, _ in results), results
    # The server closed instead of reading: no client got its whole body through.
    assert all(sent < body_size for _, sent in results), results
    assert not (s.data_dir / "files").exists() or not any((s.data_dir / "files").rglob("*big*"))


def test_slow_upload_that_keeps_sending_succeeds(start_server):
    """6 MB at ~150 KB/s takes ~40 s, longer than the 30 s header deadline: the body
    only has an inactivity deadline, so it completes and is stored intact."""
    s = start_server()
    tok = s.token(tenant="slow-t")
    data = os.urandom(6 << 20)
    step, pause = 15_000, 0.1  # ~150 KB/s
    with socket.create_connection(("127.0.0.1", s.port), timeout=10) as c:
        c.sendall(http_head(s.port, "/files/slow/data.bin", tok, len(data)))
        t0 = time.monotonic()
        for off in range(0, len(data), step):
            c.sendall(data[off:off + step])
            time.sleep(pause)
        elapsed = time.monotonic() - t0
        status, body = read_response(c, timeout=15)
    assert elapsed > 31, f"the upload took only {elapsed:.1f}s; it must outlast the header deadline"
    assert status == 201, (status, body)
    assert body["size_bytes"] == len(data)
    stored = s.data_dir / "files" / "slow-t" / "slow" / "data.bin"
    assert hashlib.sha256(stored.read_bytes()).digest() == hashlib.sha256(data).digest()


def test_stalled_upload_is_cut_and_leaves_nothing(start_server):
    """A body that stops arriving is cut after --upload-idle-timeout (connection
    closed), and its temporary file is removed."""
    s = start_server("--upload-idle-timeout", "2")
    tok = s.token(tenant="stall-t")
    tenant_dir = s.data_dir / "files" / "stall-t"

    def entries() -> list:
        return list(tenant_dir.iterdir()) if tenant_dir.exists() else []

    with socket.create_connection(("127.0.0.1", s.port), timeout=10) as c:
        c.sendall(http_head(s.port, "/files/stalled.bin", tok, 1 << 20) + b"x" * 100_000)
        t0 = time.monotonic()
        # The body is streamed to a temporary file (waited for: a loaded machine may
        # take a moment to read the first chunk).
        deadline = t0 + 5
        while not entries() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [p.name for p in entries()][0].startswith(".upload-")
        status, body = read_response(c, timeout=10)
        elapsed = time.monotonic() - t0
    assert status == -1, (status, body)  # closed without an answer
    assert 1.5 < elapsed < 6, elapsed
    # The temporary file goes with the connection (removal may trail the close briefly).
    deadline = time.monotonic() + 3
    while entries() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not entries(), entries()
    assert "upload_stalled" in s.log_text()


def test_concurrent_uploads_are_capped_per_user_and_per_address(start_server):
    s = start_server("--max-uploads-per-user", "2", "--max-uploads-per-address", "3")
    alice = s.token("alice", "cap-t")
    bob = s.token("bob", "cap-t")
    held = []
    try:
        for i in range(2):  # two uploads in progress for alice
            c = socket.create_connection(("127.0.0.1", s.port), timeout=10)
            c.sendall(http_head(s.port, f"/files/a{i}.bin", alice, 1000) + b"x" * 10)
            held.append(c)
        time.sleep(0.3)
        status, body = send_raw(s.port, http_head(s.port, "/files/a2.bin", alice, 5) + b"hello")
        assert status == 429, (status, body)
        err = body["error"]
        assert err["code"] == "RATE_LIMITED" and err["details"]["limit"] == "uploads_per_user"
        assert err["details"]["limit_value"] == 2 and err["details"]["retry_after_ms"] > 0
        # Another user from the same address: one more fits, then the address is full.
        c = socket.create_connection(("127.0.0.1", s.port), timeout=10)
        c.sendall(http_head(s.port, "/files/b0.bin", bob, 1000) + b"x" * 10)
        held.append(c)
        time.sleep(0.3)
        status, body = send_raw(s.port, http_head(s.port, "/files/b1.bin", bob, 5) + b"hello")
        assert status == 429 and body["error"]["details"]["limit"] == "uploads_per_address", (status, body)
        # Finishing one upload frees its slot.
        held[0].sendall(b"y" * 990)
        assert read_response(held[0])[0] == 201
        status, body = send_raw(s.port, http_head(s.port, "/files/a3.bin", alice, 5) + b"hello")
        assert status == 201, (status, body)
    finally:
        for c in held:
            c.close()


def test_percent_escapes_in_upload_paths_are_decoded_once(start_server):
    s = start_server()
    tok = s.token(tenant="pct-t")
    status, body = send_raw(s.port, http_head(s.port, "/files/100%25.csv", tok, 4) + b"a\n1\n")
    assert status == 201, (status, body)
    assert body["path"] == "/100%.csv"
    assert (s.data_dir / "files" / "pct-t" / "100%.csv").read_bytes() == b"a\n1\n"


# -- refused HTTP requests ------------------------------------------------------------


def test_refused_http_requests_are_answered(server):
    huge = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Filler: " + b"a" * 20_000 + b"\r\n\r\n"
    assert send_raw(server.port, huge)[0] == 431
    for bad in (b"PUT /files/x.csv HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
                b"PUT /files/x.csv HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
                b"PUT /files/x.csv HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n"):
        status, body = send_raw(server.port, bad)
        assert status == 400, (bad, status, body)
        assert body["error"]["code"] == "VALIDATION_ERROR"
    assert server.http_get("/healthz")[0] == 200


# -- accept() out of file descriptors -------------------------------------------------


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def healthz_status(port: int, timeout: float) -> int:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as c:
        c.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        return read_response(c, timeout=timeout)[0]


def test_out_of_file_descriptors_backs_off_and_healthz_answers(start_server):
    s = start_server()
    pid = s.proc.pid
    limit = open_fds(pid) + 16
    resource.prlimit(pid, resource.RLIMIT_NOFILE, (limit, limit))
    idle = []
    try:
        # Idle connections until the server holds every descriptor it may open.
        for _ in range(60):
            idle.append(socket.create_connection(("127.0.0.1", s.port), timeout=5))
            time.sleep(0.02)
            if open_fds(pid) >= limit:
                break
        assert open_fds(pid) >= limit, f"{open_fds(pid)} fds open, limit {limit}"
        for _ in range(2):  # these wait in the listen backlog: accept() fails
            idle.append(socket.create_connection(("127.0.0.1", s.port), timeout=5))
        time.sleep(0.5)
        cpu0, t0 = cpu_seconds(pid), time.monotonic()
        time.sleep(3)
        cpu = cpu_seconds(pid) - cpu0
        print(f"CPU {cpu:.2f}s in {time.monotonic() - t0:.1f}s while out of descriptors")
        assert cpu < 0.5, f"the server burnt {cpu:.2f}s of CPU in 3s while out of descriptors"
        lines = [l for l in s.log_text().splitlines() if "accept_error" in l]
        assert 1 <= len(lines) <= 3, f"{len(lines)} accept_error lines: {lines[:3]}"
        # Still exhausted: /healthz is answered on the spare descriptor (after the two
        # silent clients ahead of it in the backlog have timed out).
        assert healthz_status(s.port, timeout=15) == 200
    finally:
        for c in idle:
            c.close()
    time.sleep(0.5)
    assert healthz_status(s.port, timeout=5) == 200
    assert s.proc.poll() is None


# -- WebSocket connections that hold resources ------------------------------------------


def test_client_that_does_not_read_is_closed_despite_pings(start_server):
    s = start_server("--send-timeout", "3", "--max-messages-per-second", "1000")
    raw = RawWs(s.port, f"/production?Authorization={s.token()}", rcvbuf=4096)
    try:
        raw.send_echoes_unread(30, "q" * 400_000)  # ~12 MB of replies the client never reads
        assert connections_gauge(s) == 1
        closed_after = None
        t0 = time.monotonic()
        while time.monotonic() - t0 < 12:  # pings keep it "active"; output never drains
            try:
                raw.send_frame(0x9, b"still here")
            except (socket.timeout, OSError):
                pass
            if connections_gauge(s) == 0:
                closed_after = time.monotonic() - t0
                break
            time.sleep(0.5)
        assert closed_after is not None, "the non-reading client is still connected"
        assert closed_after < 8, closed_after
        assert "send_timeout" in s.log_text()
    finally:
        raw.close()


def test_unfinished_fragmented_message_is_closed_1008(start_server):
    s = start_server("--fragment-timeout", "2")
    raw = RawWs(s.port, f"/production?Authorization={s.token()}", timeout=8)
    try:
        raw.send_frame_raw(False, 0x1, b'{"id":"f1","action":')  # first fragment, never the last
        t0 = time.monotonic()
        code = None
        while time.monotonic() - t0 < 8:
            raw.send_frame(0x9, b"")  # control frames between fragments are legal
            raw.sock.settimeout(0.5)
            try:
                kind, msg = raw.read_message()
            except socket.timeout:
                continue
            if kind == "close":
                code = msg
                break
        elapsed = time.monotonic() - t0
        assert code == 1008, code
        assert 1.5 < elapsed < 5, elapsed
    finally:
        raw.close()


def test_64_bit_length_with_top_bit_set_is_a_protocol_error(server):
    raw = RawWs(server.port, f"/production?Authorization={server.token()}", timeout=5)
    try:
        raw.sock.sendall(bytes([0x81, 0xFF]) + struct.pack("!Q", (1 << 63) | 5) + os.urandom(4))
        kind, code = raw.read_message()
        assert (kind, code) == ("close", 1002)
    finally:
        raw.close()


def test_messages_over_the_rate_are_dropped_unparsed(start_server):
    """Over the rate, malformed JSON is not parsed (no VALIDATION_ERROR) and valid
    requests do not run: each valid one is answered RATE_LIMITED with its own id (read
    from its first bytes), the unreadable ones get one notice with request_id null."""
    s = start_server("--max-messages-per-second", "5")
    raw = RawWs(s.port, f"/production?Authorization={s.token()}", timeout=5)
    try:
        for i in range(5):
            raw.send_json({"id": f"ok{i}", "action": "health"})
        for i in range(20):
            raw.send_frame(0x1, b"{garbage" if i % 2 else json.dumps({"id": f"over{i}", "action": "health"}).encode())
        got = []
        raw.sock.settimeout(1.0)
        try:
            while True:
                kind, msg = raw.read_message()
                if kind == "text":
                    got.append(msg)
        except socket.timeout:
            pass
        answered = {m["response"]["request_id"] for m in got if m["type"] == "response"}
        errors = [m["error"] for m in got if m["type"] == "error"]
        assert answered == {f"ok{i}" for i in range(5)}, got
        assert {e["code"] for e in errors} == {"RATE_LIMITED"}, errors
        assert sorted(e["request_id"] for e in errors if e["request_id"]) == sorted(f"over{i}" for i in range(0, 20, 2))
        assert [e["request_id"] for e in errors].count(None) == 1, errors  # garbage: one notice
        for d in (e["details"] for e in errors):
            assert d["limit"] == "messages_per_second" and d["limit_value"] == 5 and d["retry_after_ms"] > 0
        # After the wait, requests pass again.
        time.sleep(1.1)
        raw.send_json({"id": "later", "action": "health"})
        raw.sock.settimeout(5)
        kind, msg = raw.read_message()
        assert msg["type"] == "response" and msg["response"]["request_id"] == "later", msg
    finally:
        raw.close()
