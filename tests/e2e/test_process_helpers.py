"""Helpers (no tests) for test_process*.py: uploads over HTTP PUT, process_data and
stream_append over a WebSocket, artifact downloads, the documented train/test split,
and generators of data with a known answer."""
from __future__ import annotations

import csv
import io
import json
import urllib.error
import urllib.request
import uuid
from urllib.parse import quote, urlsplit

import numpy as np
import websockets

from conftest import recv_until

M64 = (1 << 64) - 1


def splitmix64(x: int) -> int:
    x = (x + 0x9E3779B97F4A7C15) & M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & M64
    return x ^ (x >> 31)


def split_is_test(rows: int, test_fraction: float = 0.2, seed: int = 42) -> list[bool]:
    """The split documented in docs/process_data.md (row i held out iff u(i) < fraction)."""
    us = [(splitmix64(seed ^ ((i * 0xD1B54A32D192ED03) & M64)) >> 11) * 2.0 ** -53 for i in range(rows)]
    test = [u < test_fraction for u in us]
    if rows >= 2 and not any(test):
        test[min(range(rows), key=us.__getitem__)] = True
    if rows >= 2 and all(test):
        test[max(range(rows), key=us.__getitem__)] = False
    return test


# -- HTTP ----------------------------------------------------------------------------

def put_file(server, token: str | None, path: str, body: bytes, timeout=30):
    """PUT /files/{path}; returns (status, parsed JSON body or raw bytes)."""
    headers = {"Content-Type": "application/octet-stream"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(f"{server.http_url}/files/{quote(path.lstrip('/'), safe='/%')}", data=body,
                                 method="PUT", headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            status, raw = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    except (ConnectionError, urllib.error.URLError) as e:  # server may close on an oversized body
        return 413 if "413" in str(e) else -1, str(e).encode()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw


def download(server, url: str) -> bytes:
    parts = urlsplit(url)
    status, _, body = server.http_get(parts.path + ("?" + parts.query if parts.query else ""))
    assert status == 200, (status, body[:200])
    return body


def to_csv(columns: dict) -> bytes:
    names = list(columns)
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(names)
    for row in zip(*(columns[n] for n in names)):
        w.writerow(["" if (isinstance(v, float) and np.isnan(v)) else v for v in row])
    return out.getvalue().encode()


# -- WebSocket -------------------------------------------------------------------------

def _mine(rid):
    def f(m):
        body = m.get(m.get("type"), {})
        return isinstance(body, dict) and body.get("request_id") == rid
    return f


async def run_action(server, token, action, payload, timeout=300.0):
    """Sends one request; returns (messages for it, final message). Final is the
    `result`/`error`, or a non-queued `response`."""
    rid = f"{action}-{uuid.uuid4().hex[:10]}"
    mine = _mine(rid)
    async with websockets.connect(server.ws_url(token), max_size=None, ping_interval=None) as ws:
        await ws.send(json.dumps({"id": rid, "action": action, "payload": payload}))

        def done(m):
            return mine(m) and (m["type"] in ("result", "error") or
                                (m["type"] == "response" and m["response"].get("status") != "queued"))

        seen, last = await recv_until(ws, done, timeout=timeout)
        return [m for m in seen if mine(m)], last


async def process(server, token, payload, timeout=300.0):
    return await run_action(server, token, "process_data", payload, timeout)


async def stream_append(server, token, stream_id, records):
    _, last = await run_action(server, token, "stream_append", {"stream_id": stream_id, "records": records}, 30)
    return last


def result_data(final):
    assert final["type"] == "result", final
    assert final["result"]["success"] is True
    return final["result"]["data"]


def error_of(final):
    assert final["type"] == "error", final
    return final["error"]


# -- data with a known answer ----------------------------------------------------------

def separable_classes(n=3000, seed=1):
    rng = np.random.default_rng(seed)
    cls = np.arange(n) % 3
    x1 = cls * 6.0 + rng.normal(0, 0.7, n)
    x2 = -cls * 6.0 + rng.normal(0, 0.7, n)
    x3 = rng.normal(0, 1, n)  # noise feature
    names = np.array(["red", "green", "blue"])
    return {"x1": x1.round(5), "x2": x2.round(5), "x3": x3.round(5), "label": names[cls]}


def linear_target(n=4000, seed=2, noise=0.5):
    rng = np.random.default_rng(seed)
    a, b, c = rng.normal(0, 2, n), rng.normal(0, 2, n), rng.uniform(-1, 1, n)
    y = 3 * a - 2 * b + 0.5 * c + 5 + rng.normal(0, noise, n)
    return {"a": a.round(6), "b": b.round(6), "c": c.round(6), "y": y.round(6)}


def blobs(n=3000, seed=3):
    rng = np.random.default_rng(seed)
    centers = np.array([[0, 0], [10, 10], [20, 0]])
    which = np.arange(n) % 3
    pts = centers[which] + rng.normal(0, 0.8, (n, 2))
    return pts.round(5), which


def outliers(n=5000, seed=4, every=50):
    rng = np.random.default_rng(seed)
    X = rng.normal(0, 1, (n, 3))
    label = (np.arange(n) % every == 0).astype(int)
    X[label == 1] = rng.normal(9, 1, (label.sum(), 3)) * rng.choice([-1, 1], (label.sum(), 3))
    return {"f1": X[:, 0].round(5), "f2": X[:, 1].round(5), "f3": X[:, 2].round(5), "label": label}
