"""Helpers (no tests) shared by test_report*.py and test_artifacts*.py: seeding the sales
dataset with the real binary, running generate_report over a WebSocket, and
cross-checking with SQL on the same rows."""
from __future__ import annotations

import json
import sqlite3
import subprocess
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import websockets

from conftest import BINARY, recv_json, recv_until


def seed(data_dir: Path, tenant: str, rows: int) -> None:
    subprocess.run([str(BINARY), "seed-data", "--data-dir", str(data_dir), "--tenant", tenant,
                    "--rows", str(rows)], check=True, capture_output=True, timeout=120)


def sql_one(data_dir: Path, query: str, *params):
    with sqlite3.connect(data_dir / "datasets" / "sales.db") as db:
        return db.execute(query, params).fetchone()[0]


def sales_where(tenant, start, end, category=None, region=None):
    clause = "tenant_id = ? AND date BETWEEN ? AND ?"
    params = [tenant, start, end]
    if category:
        clause += " AND category = ?"
        params.append(category)
    if region:
        clause += " AND region = ?"
        params.append(region)
    return clause, params


def expected_totals(data_dir, tenant, start, end, category=None, region=None):
    """(records, gross) straight from SQL."""
    clause, params = sales_where(tenant, start, end, category, region)
    records = sql_one(data_dir, f"SELECT COUNT(*) FROM sales WHERE {clause}", *params)
    gross = sql_one(data_dir, f"SELECT COALESCE(SUM(amount), 0) FROM sales WHERE {clause}", *params)
    return records, round(gross, 2)


def report_payload(start="2024-01-01", end="2024-06-30", fmt="csv", report_type="monthly", **extra):
    payload = {"start_date": start, "end_date": end, "format": fmt, "report_type": report_type}
    payload.update(extra)
    return payload


async def run_report(server, token, payload, timeout=120.0):
    """Sends generate_report; returns (all messages for the request, final message)."""
    rid = "rep-" + uuid.uuid4().hex[:12]
    async with websockets.connect(server.ws_url(token), max_size=None) as ws:
        await ws.send(json.dumps({"id": rid, "action": "generate_report", "payload": payload}))

        def mine(m):
            body = m.get(m.get("type"), {})
            return isinstance(body, dict) and body.get("request_id") == rid

        def done(m):
            return mine(m) and (m["type"] in ("result", "error") or
                                (m["type"] == "response" and m["response"].get("status") not in ("queued",)))

        seen, last = await recv_until(ws, done, timeout=timeout)
        return [m for m in seen if mine(m)], last


def download(server, url):
    """GET of an artifact URL against this server: (status, headers, body)."""
    parts = urlsplit(url)
    return server.http_get(parts.path + ("?" + parts.query if parts.query else ""))


def target_of(url):
    parts = urlsplit(url)
    return parts.path + "?" + parts.query
