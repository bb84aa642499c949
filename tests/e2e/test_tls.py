"""wss:// with a self-signed certificate (--tls-cert/--tls-key)."""
from __future__ import annotations

import asyncio
import ssl
import subprocess
import urllib.request

import pytest

from helpers_e2e import assert_error, assert_success, call, connect, expect_rejected


@pytest.fixture
def cert(tmp_path):
    crt, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
                    "-out", str(crt), "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, capture_output=True)
    return crt, key


@pytest.fixture
def tls_server(start_server, cert):
    crt, key = cert
    return start_server("--tls-cert", str(crt), "--tls-key", str(key), scheme="wss")


def client_ctx(crt) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(crt))
    return ctx


async def test_wss_health(tls_server, cert):
    s = tls_server
    assert s.ws_url().startswith("wss://")
    async with connect(s.ws_url(s.token()), ssl=client_ctx(cert[0])) as ws:
        msg = await call(ws, "1", "health")
        assert assert_success(msg, "1")["status"] == "healthy"
        msg = await call(ws, "2", "echo", {"over": "tls"})
        assert assert_success(msg, "2") == {"over": "tls"}


async def test_wss_rejects_bad_token_with_4401(tls_server, cert):
    msgs, code = await expect_rejected(tls_server.ws_url("not-a-token"), ssl=client_ctx(cert[0]))
    assert code == 4401 and len(msgs) == 1
    assert_error(msgs[0], "UNAUTHORIZED", None)


async def test_wss_untrusted_certificate_fails_verification(tls_server):
    ctx = ssl.create_default_context()  # does not trust our self-signed cert
    with pytest.raises(ssl.SSLCertVerificationError):
        async with connect(tls_server.ws_url(tls_server.token()), ssl=ctx):
            pass


async def test_plain_ws_on_tls_port_does_not_connect(tls_server, cert):
    url = tls_server.ws_url(tls_server.token()).replace("wss://", "ws://")
    with pytest.raises(Exception):
        async with connect(url, open_timeout=5) as ws:
            await call(ws, "1", "health", timeout=3)
    # ...and the TLS listener still works afterwards.
    async with connect(tls_server.ws_url(tls_server.token()), ssl=client_ctx(cert[0])) as ws:
        assert assert_success(await call(ws, "2", "health"), "2")["status"] == "healthy"


async def test_wss_token_in_header_and_expiry_close(tls_server, cert):
    ctx = client_ctx(cert[0])
    async with connect(tls_server.ws_url(None), ssl=ctx,
                       additional_headers={"Authorization": f"Bearer {tls_server.token(ttl=2)}"}) as ws:
        assert assert_success(await call(ws, "1", "health"), "1")["status"] == "healthy"
        from helpers_e2e import expect_close
        msgs, code, _ = await expect_close(ws, timeout=6)
    assert code == 4401 and len(msgs) == 1
    assert_error(msgs[0], "UNAUTHORIZED", None, reason="token_expired")


def test_https_health_endpoints(tls_server, cert):
    ctx = client_ctx(cert[0])
    for path in ("/healthz", "/readyz", "/metrics"):
        with urllib.request.urlopen(tls_server.http_url + path, context=ctx, timeout=10) as r:
            assert r.status == 200, path
            body = r.read()
            if path == "/metrics":
                assert b"streamer_connections_open" in body
