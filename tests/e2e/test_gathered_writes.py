"""A connection's ready messages leave in one gathered write (docs/architecture.md,
"Writing"): answers to requests that arrived together are sent with one socket write,
each still its own WebSocket message, in order; the bounds on a client that does not
read are unchanged (its results overflow the outgoing queue: closed 1013, memory
bounded)."""
from __future__ import annotations

import os
import struct
import time

from helpers_e2e import RawWs, get_metrics, metric, rss_kb, xor_mask


def masked_text_frame(text: str) -> bytes:
    data = text.encode()
    n = len(data)
    if n < 126:
        hdr = bytes([0x81, 0x80 | n])
    else:
        hdr = bytes([0x81, 0x80 | 126]) + struct.pack("!H", n)
    mask = os.urandom(4)
    return hdr + mask + xor_mask(data, mask)


def wait_for_counter(server, name: str, at_least: float, timeout=5.0) -> dict:
    """Metrics once `name` reached `at_least` (a write is counted when it completes,
    which may trail the client's read), or the last ones after `timeout`."""
    deadline = time.monotonic() + timeout
    m = get_metrics(server)
    while metric(m, name) < at_least and time.monotonic() < deadline:
        time.sleep(0.05)
        m = get_metrics(server)
    return m


def test_answers_to_pipelined_requests_go_out_in_one_write_in_order(server):
    raw = RawWs(server.port, f"/production?Authorization={server.token()}")
    try:
        m0 = get_metrics(server)
        writes0 = metric(m0, "streamer_message_writes_total")
        out0 = metric(m0, "streamer_messages_out_total")
        n = 12
        ids = [f"p{i}" for i in range(n)]
        frames = b"".join(
            masked_text_frame(f'{{"id":"{rid}","action":"{"health" if i % 2 else "echo"}",'
                              f'"payload":{{"i":{i}}}}}')
            for i, rid in enumerate(ids))
        raw.sock.sendall(frames)  # one segment: the server reads them all at once
        got = []
        while len(got) < n:
            kind, msg = raw.read_message()
            assert kind == "text", (kind, msg)
            assert msg["type"] == "response" and msg["response"]["status"] == "success", msg
            got.append(msg["response"]["request_id"])
        assert got == ids  # each its own message, in the order of the requests
        m1 = wait_for_counter(server, "streamer_messages_out_total", out0 + n)
        assert metric(m1, "streamer_messages_out_total") - out0 == n
        assert metric(m1, "streamer_message_writes_total") - writes0 == 1
    finally:
        raw.close()


def test_client_that_stops_reading_is_still_closed_1013_with_memory_bounded(start_server):
    # Replies are never dropped: once 16 of them wait behind a write the client does not
    # take, the connection is closed 1013, and what was queued is discarded.
    s = start_server("--outbound-queue-messages", "16", "--max-messages-per-second", "1000",
                     "--send-timeout", "30")
    pid = s.proc.pid
    raw = RawWs(s.port, f"/production?Authorization={s.token()}", rcvbuf=4096)
    try:
        rss0 = rss_kb(pid)
        raw.send_echoes_unread(200, "b" * 60_000, timeout=5)  # ~12 MB of replies, unread
        m = wait_for_counter(s, "streamer_slow_client_closes_total", 1)
        assert metric(m, "streamer_slow_client_closes_total") == 1
        growth_mb = (rss_kb(pid) - rss0) / 1024
        assert growth_mb < 32, f"server RSS grew by {growth_mb:.1f} MB for one client that does not read"
        # Reading again: the replies that were already written, then the close frame.
        raw.sock.settimeout(15)
        seen = []
        while True:
            kind, msg = raw.read_message()
            if kind == "close":
                assert msg == 1013, msg
                break
            assert kind == "text" and msg["type"] == "response", (kind, msg)
            seen.append(msg["response"]["request_id"])
        assert seen == [f"e{i}" for i in range(len(seen))]  # a prefix, in order
        assert 0 < len(seen) < 200
    finally:
        raw.close()
