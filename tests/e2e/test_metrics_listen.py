"""--metrics-listen: a second listener that serves only GET /metrics without a token,
for a Prometheus on a private interface, while the public listener keeps /metrics
behind --metrics-token."""
from __future__ import annotations

import socket
import subprocess
import urllib.error
import urllib.request

from conftest import BINARY, SECRET, free_port


def get(port: int, path: str, method: str = "GET"):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, dict(r.headers), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode()


def test_the_metrics_listener_serves_metrics_without_a_token_and_nothing_else(start_server):
    port = free_port()
    s = start_server("--metrics-token", "scrape-secret", "--metrics-listen", f"127.0.0.1:{port}")
    status, _, _ = s.http_get("/metrics")
    assert status == 401  # the public listener still wants the token
    status, headers, body = get(port, "/metrics")
    assert status == 200 and headers["Content-Type"].startswith("text/plain; version=0.0.4")
    assert "streamer_build_info" in body and "streamer_requests_total" in body
    assert headers.get("Connection") == "close"
    assert get(port, "/healthz")[0] == 404
    assert get(port, "/console")[0] == 404
    assert get(port, "/metrics", method="POST")[0] == 405
    assert '"event":"metrics_listening"' in s.log_text()


def test_a_stalled_or_oversized_request_is_closed_unanswered(start_server):
    port = free_port()
    start_server("--metrics-listen", f"127.0.0.1:{port}")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as c:
        c.sendall(b"GET /metrics HTTP/1.1\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n")
        try:
            answer = c.recv(1024)
        except ConnectionResetError:
            answer = b""
        assert answer == b""  # closed unanswered: headers over 8 KiB
    assert get(port, "/metrics")[0] == 200  # and the listener goes on


def test_a_bad_metrics_listen_address_is_refused_at_start(tmp_path):
    args = [str(BINARY), "serve", "--listen", f"127.0.0.1:{free_port()}", "--data-dir", str(tmp_path),
            "--jwt-secret", SECRET, "--metrics-listen", "127.0.0.1"]
    r = subprocess.run(args, capture_output=True, text=True, timeout=20)
    assert r.returncode != 0
    assert "--metrics-listen '127.0.0.1': no port" in r.stderr, r.stderr
