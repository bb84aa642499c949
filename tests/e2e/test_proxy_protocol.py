"""PROXY protocol (--proxy-protocol): a trusted proxy's v1/v2 header names the client the
per-IP connection rate counts; a header from any other peer, or a malformed one, closes
the connection (counted by reason) and the server keeps serving. The "proxy" here is a
socket bound to 127.0.0.3 (the only trusted address); 127.0.0.1 and 127.0.0.2 are
direct clients."""
from __future__ import annotations

import asyncio
import json
import socket
import ssl
import struct
import subprocess

import websockets

from helpers_e2e import connect, get_metrics, metric, request, wait_until

PROXY_ADDR = "127.0.0.3"
V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"


def v1(client: str) -> bytes:
    return f"PROXY TCP4 {client} 127.0.0.1 40000 443\r\n".encode()


def v2(client: str) -> bytes:
    body = socket.inet_aton(client) + socket.inet_aton("127.0.0.1") + struct.pack("!HH", 40000, 443)
    body += b"\x03\x00\x04abcd"  # a TLV (CRC32C type), skipped
    return V2_SIGNATURE + bytes([0x21, 0x11]) + struct.pack("!H", len(body)) + body


def raw_socket(server, source: str) -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(10)
    s.bind((source, 0))
    s.connect(("127.0.0.1", server.port))
    return s


async def admitted(server, source: str, header: bytes, tls: ssl.SSLContext | None = None) -> bool:
    """Sends `header` from `source`, then a WebSocket upgrade and `health`: True when
    answered, False when refused with the connection rate (4429)."""
    s = raw_socket(server, source)
    s.sendall(header)
    s.setblocking(False)
    extra = {"ssl": tls, "server_hostname": "127.0.0.1"} if tls else {}
    try:
        async with connect(server.ws_url(server.token()), sock=s, **extra) as ws:
            await request(ws, "h", "health")
            msg = json.loads(await asyncio.wait_for(ws.recv(), 10))
    except websockets.ConnectionClosed as e:
        assert e.rcvd is not None and e.rcvd.code == 4429, e
        return False
    if msg["type"] == "error" and msg["error"]["request_id"] is None:
        assert msg["error"]["code"] == "RATE_LIMITED", msg
        return False
    assert msg["type"] == "response", msg
    return True


def closed_without_answer(server, source: str, data: bytes) -> bool:
    """Sends `data` then an HTTP request from `source`: True when the server closes the
    connection without answering a byte."""
    s = raw_socket(server, source)
    try:
        s.sendall(data + b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        return s.recv(4096) == b""
    except ConnectionResetError:
        return True
    finally:
        s.close()


def refused(server, reason: str) -> float:
    return metric(get_metrics(server), "streamer_proxy_protocol_refused_total", reason=reason)


def proxied_server(start_server, *flags, **kw):
    return start_server("--proxy-protocol", "--trusted-proxies", PROXY_ADDR, *flags, **kw)


async def test_a_trusted_proxys_header_names_the_client_the_connection_rate_counts(start_server):
    server = proxied_server(start_server, "--max-connections-per-minute", "2")
    # v1 and v2 name the same client: its third connection is over the rate...
    assert [await admitted(server, PROXY_ADDR, h("203.0.113.7")) for h in (v1, v2, v1)] == [True, True, False]
    # ...while another client behind the same proxy is counted on its own.
    assert await admitted(server, PROXY_ADDR, v2("203.0.113.8"))
    assert await admitted(server, PROXY_ADDR, v1("203.0.113.8"))
    # A direct client (no header, an untrusted address) is counted on its own address.
    assert await admitted(server, "127.0.0.2", b"")
    assert "\"remote\":\"203.0.113.7\"" in server.log_text()  # the refusal names the client


async def test_an_untrusted_peers_header_is_refused_and_direct_clients_are_served(start_server):
    server = proxied_server(start_server)
    for header in (v1("203.0.113.7"), v2("203.0.113.7"), b"PROXY TCP4 bad\r\n"):
        assert closed_without_answer(server, "127.0.0.2", header)
    assert refused(server, "untrusted_peer") == 3
    # A direct client that sends no header is served under its own address.
    assert await admitted(server, "127.0.0.2", b"")
    assert server.http_get("/healthz")[0] == 200


async def test_malformed_or_missing_headers_from_the_proxy_close_the_connection(start_server):
    server = proxied_server(start_server)
    malformed = [
        b"PROXY TCP4 203.0.113.7 127.0.0.1 40000\r\n",          # a field missing
        b"PROXY TCP6 203.0.113.7 127.0.0.1 1 2\r\n",             # v4 address under TCP6
        b"PROXY TCP4 203.0.113.7 127.0.0.1 1 99999\r\n",         # port out of range
        b"PROXY " + b"A" * 200,                                  # no CRLF within 107 bytes
        V2_SIGNATURE + bytes([0x21, 0x11, 0, 4]) + b"\0" * 4,    # too short for IPv4
        V2_SIGNATURE + bytes([0x31, 0x11, 0, 12]) + b"\0" * 12,  # version 3
        V2_SIGNATURE + bytes([0x2f, 0x11, 0, 12]) + b"\0" * 12,  # command 15
    ]
    for header in malformed:
        assert closed_without_answer(server, PROXY_ADDR, header), header
    assert refused(server, "malformed") == len(malformed)
    assert closed_without_answer(server, PROXY_ADDR, b"")  # a plain request from the proxy
    assert refused(server, "missing") == 1
    # v2 LOCAL (the proxy's own health check) names no client: the proxy's address counts.
    local = V2_SIGNATURE + bytes([0x20, 0x00, 0, 0])
    s = raw_socket(server, PROXY_ADDR)
    s.sendall(local + b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    assert s.recv(4096).startswith(b"HTTP/1.1 200")
    s.close()
    assert await admitted(server, PROXY_ADDR, v1("203.0.113.9"))  # still serving


async def test_a_header_that_never_completes_times_out(start_server):
    server = proxied_server(start_server, "--header-timeout", "1")
    s = raw_socket(server, PROXY_ADDR)
    s.sendall(b"PROXY TCP4 203.0.113.7")
    s.settimeout(5)
    assert s.recv(4096) == b""
    s.close()
    # The timer closes the socket and then the read completes and counts the refusal:
    # the count may come a moment after the client saw the close.
    await wait_until(lambda: refused(server, "timeout") >= 1, 5, what="the refusal to be counted")
    assert refused(server, "timeout") == 1


def tls_health_after_header(server, ctx: ssl.SSLContext, header: bytes) -> bytes:
    """GET /healthz over TLS, the PROXY header and the ClientHello sent in one write (so
    the server reads TLS bytes together with the header). Returns the answer's bytes."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ctx.wrap_bio(incoming, outgoing, server_hostname="127.0.0.1")
    s = raw_socket(server, PROXY_ADDR)
    first = True
    while True:
        try:
            tls.do_handshake()
            break
        except ssl.SSLWantReadError:
            data = outgoing.read()
            s.sendall((header if first else b"") + data)
            first = False
            chunk = s.recv(65536)
            assert chunk, "closed during the handshake"
            incoming.write(chunk)
    s.sendall(outgoing.read())
    tls.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    s.sendall(outgoing.read())
    answer = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        incoming.write(chunk)
        try:
            while True:
                answer += tls.read(65536)
        except ssl.SSLWantReadError:
            pass
        except ssl.SSLZeroReturnError:
            break
        if b"\r\n\r\n" in answer and answer.endswith(b"}"):
            break
    s.close()
    return answer


async def test_over_tls_the_header_precedes_the_handshake(start_server, tmp_path):
    crt, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
                    "-out", str(crt), "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    server = proxied_server(start_server, "--tls-cert", str(crt), "--tls-key", str(key),
                            "--max-connections-per-minute", "1", scheme="wss")
    ctx = ssl.create_default_context(cafile=str(crt))
    assert tls_health_after_header(server, ctx, v2("203.0.113.7")).startswith(b"HTTP/1.1 200")
    assert await admitted(server, PROXY_ADDR, v1("203.0.113.7"), tls=ctx)
    assert not await admitted(server, PROXY_ADDR, v2("203.0.113.7"), tls=ctx)  # its second
    assert await admitted(server, PROXY_ADDR, v1("203.0.113.8"), tls=ctx)
