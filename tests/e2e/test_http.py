"""HTTP endpoints on the WebSocket port: /healthz, /readyz, /metrics."""
from __future__ import annotations

import asyncio

from helpers_e2e import (assert_error, call, connect, get_metrics, metric, parse_metrics, request,
                         until_terminal)


def test_healthz_and_readyz(server):
    for path in ("/healthz", "/readyz"):
        status, headers, body = server.http_get(path)
        assert status == 200, (path, status, body)


def test_unknown_path_is_404(server):
    status, _, _ = server.http_get("/no-such-endpoint")
    assert status == 404


def test_metrics_is_prometheus_text_with_all_families(server):
    status, headers, body = server.http_get("/metrics")
    assert status == 200
    ctype = {k.lower(): v for k, v in headers.items()}.get("content-type", "")
    assert ctype.startswith("text/plain"), ctype
    text = body.decode()
    parse_metrics(text)  # every line parses
    for family, kind in [("streamer_connections_open", "gauge"), ("streamer_messages_in_total", "counter"),
                         ("streamer_messages_out_total", "counter"),
                         ("streamer_requests_total", "counter"),
                         ("streamer_request_duration_seconds", "histogram"),
                         ("streamer_rate_limited_total", "counter")]:
        type_name = family[:-len("_total")] if family.endswith("_total") else family
        assert (f"# TYPE {family} {kind}" in text or f"# TYPE {type_name} {kind}" in text), \
            f"no '# TYPE {family} {kind}' line"


async def test_metrics_count_connections_messages_and_requests(server):
    m0 = get_metrics(server)
    assert metric(m0, "streamer_connections_open") == 0
    async with connect(server.ws_url(server.token())) as ws:
        await call(ws, "1", "health")
        await call(ws, "2", "echo", {"x": 1})
        await call(ws, "3", "no_such_action")
        # A message is counted once its write completes, which may trail the client's
        # read of it: wait (bounded) for the third answer to be counted.
        m1 = get_metrics(server)
        for _ in range(40):
            if metric(m1, "streamer_messages_out_total") - _m(m0, "streamer_messages_out_total") >= 3:
                break
            await asyncio.sleep(0.05)
            m1 = get_metrics(server)
        assert metric(m1, "streamer_connections_open") == 1
        async with connect(server.ws_url(server.token())):
            await asyncio.sleep(0.1)
            assert metric(get_metrics(server), "streamer_connections_open") == 2
    assert metric(m1, "streamer_messages_in_total") - _m(m0, "streamer_messages_in_total") >= 3
    assert metric(m1, "streamer_messages_out_total") - _m(m0, "streamer_messages_out_total") >= 3
    assert metric(m1, "streamer_requests_total", action="health", outcome="success") >= 1
    assert metric(m1, "streamer_requests_total", action="echo", outcome="success") >= 1
    h_count = metric(m1, "streamer_request_duration_seconds_count", action="health")
    assert h_count >= 1
    inf = metric(m1, "streamer_request_duration_seconds_bucket", action="health", le="+Inf")
    assert inf == h_count
    assert metric(m1, "streamer_request_duration_seconds_sum", action="health") >= 0
    # buckets are cumulative
    buckets = sorted(((float(dict(ls)["le"]), v) for (n, ls), v in m1.items()
                      if n == "streamer_request_duration_seconds_bucket" and dict(ls).get("action") == "health"))
    assert len(buckets) >= 5
    assert all(a[1] <= b[1] for a, b in zip(buckets, buckets[1:])), buckets
    # Connections go back to zero once closed.
    for _ in range(50):
        if metric(get_metrics(server), "streamer_connections_open") == 0:
            break
        await asyncio.sleep(0.1)
    assert metric(get_metrics(server), "streamer_connections_open") == 0


async def test_metrics_count_async_outcomes(server):
    async with connect(server.ws_url(server.token())) as ws:
        await request(ws, "d1", "delay", {"duration_ms": 10})
        _, last = await until_terminal(ws, "d1")
        assert last["type"] == "result"
    m = get_metrics(server)
    assert metric(m, "streamer_requests_total", action="delay") >= 1


async def test_rate_limited_metric(start_server):
    s = start_server("--max-messages-per-second", "2")
    before = _m(get_metrics(s), "streamer_rate_limited_total")
    async with connect(s.ws_url(s.token())) as ws:
        for i in range(5):
            await request(ws, f"r{i}", "health")
        # Two answers, then one RATE_LIMITED for the three dropped messages.
        got = [await asyncio.wait_for(ws.recv(), 5) for _ in range(3)]
    assert sum('"RATE_LIMITED"' in g for g in got) == 1
    assert metric(get_metrics(s), "streamer_rate_limited_total") - before >= 2


def _m(metrics, name, **labels):
    try:
        return metric(metrics, name, **labels)
    except AssertionError:
        return 0.0


async def test_request_counters_are_exact(server):
    m0 = get_metrics(server)
    h0 = _m(m0, "streamer_requests_total", action="health", outcome="success")
    e0 = _m(m0, "streamer_requests_total", action="echo", outcome="success")
    async with connect(server.ws_url(server.token())) as ws:
        for i in range(3):
            await call(ws, f"h{i}", "health")
        for i in range(2):
            await call(ws, f"e{i}", "echo", {"i": i})
    m1 = get_metrics(server)
    assert metric(m1, "streamer_requests_total", action="health", outcome="success") - h0 == 3
    assert metric(m1, "streamer_requests_total", action="echo", outcome="success") - e0 == 2
    assert metric(m1, "streamer_request_duration_seconds_count", action="health") - \
        _m(m0, "streamer_request_duration_seconds_count", action="health") == 3



async def test_connections_gauge_returns_to_zero_after_abrupt_and_rejected_connections(server):
    import socket
    import struct
    from helpers_e2e import RawWs
    tok = server.token()
    raws = [RawWs(server.port, f"/production?Authorization={tok}") for _ in range(3)]
    async with connect(server.ws_url(tok)) as ws:
        await call(ws, "1", "health")
        await asyncio.sleep(0.1)
        assert metric(get_metrics(server), "streamer_connections_open") == 4
    for r in raws:  # reset, no close frame
        r.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        r.close()
    for _ in range(3):  # rejected
        async with connect(server.ws_url("bad-token")) as ws:
            try:
                await asyncio.wait_for(ws.recv(), 5)
                await asyncio.wait_for(ws.recv(), 5)
            except Exception:
                pass
    for _ in range(50):
        if metric(get_metrics(server), "streamer_connections_open") == 0:
            break
        await asyncio.sleep(0.1)
    assert metric(get_metrics(server), "streamer_connections_open") == 0


async def test_metric_labels_are_bounded_for_unknown_actions(server):
    """Client-chosen action names must not become label values (unbounded series)."""
    async with connect(server.ws_url(server.token())) as ws:
        for i in range(30):
            await call(ws, f"u{i}", f"bogus_action_{i}_zz")
    _, _, body = server.http_get("/metrics")
    text = body.decode()
    assert "bogus_action_" not in text, "unknown action names appear as metric labels"
