"""docs/asyncapi.yaml against the real server.

Every message the e2e tests receive is validated by conftest's `validate_every_message`;
the tests here check the rest of the document: that it is consistent and its JSON copy
current, that its action list, modes, estimates, error codes and close codes are the
server's, that its payload schemas accept and refuse what the server accepts and
refuses, and that the validation hook really sees every message.
"""
from __future__ import annotations

import asyncio
import re
import subprocess
import sys

import pytest

import protocol_schema
from conftest import ROOT
from helpers_e2e import (RawWs, assert_error, assert_success, call, connect, expect_rejected, recv, recv_for,
                         request, until_terminal)
from protocol_schema import SchemaViolation, document, errors_of, handler_payload_pointer
from test_report_helpers import seed

SERVICE_ACTIONS = {"subscribe", "cancel", "stats.watch", "stats.unwatch"}
# Needs a failed request to answer `success` (test_admin_api covers it).
NEEDS_A_FAILED_REQUEST = {"jobs.retry"}


def handlers() -> dict:
    return document()["x-handlers"]


def test_document_is_consistent_and_its_json_copy_is_current():
    run = subprocess.run([sys.executable, str(ROOT / "scripts" / "asyncapi.py")], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr


def test_error_codes_are_the_servers():
    source = (ROOT / "src" / "core" / "error_code.cpp").read_text()
    server_codes = re.findall(r'\{ErrorCode::k\w+, "([A-Z_]+)"\}', source)
    schema = document()["components"]["schemas"]["ErrorCode"]
    assert server_codes and schema["enum"] == server_codes
    assert set(schema["x-retryable"]) == set(server_codes)
    retryable = {c for c, r in schema["x-retryable"].items() if r}
    assert retryable == {"INTERNAL_ERROR", "TIMEOUT", "RATE_LIMITED"}  # the seed's Retry column


async def test_documented_actions_are_the_servers(server):
    async with connect(server.ws_url(server.token())) as ws:
        msg = await call(ws, "x1", "no_such_action", {})
    err = assert_error(msg, "INVALID_ACTION", "x1")
    assert set(err["details"]["available"]) == set(handlers()) - SERVICE_ACTIONS


VALID_PAYLOADS = {
    "health": {},
    "echo": {"any": ["thing", 1]},
    "delay": {"duration_ms": 10, "steps": 2},
    "jobs.list": {"action": "delay", "limit": 5},
    "jobs.get": {"request_id": "m-delay"},
    "jobs.retry": {"request_id": "m-delay"},
    "jobs.cancel": {"request_id": "m-delay"},
    "jobs.purge": {"older_than": 3600},
    "generate_report": {"start_date": "2024-01-01", "end_date": "2024-01-31", "format": "csv",
                        "report_type": "monthly", "filters": {"region": "europe"}},
    "stream_append": {"stream_id": "schema-1", "records": [{"x": i, "y": 2.5 * i, "tag": "a"} for i in range(40)]},
    "process_data": {"pipeline": "clustering", "data_source": {"type": "stream", "stream_id": "schema-1"},
                     "output": {"format": "json"}, "options": {"k": 2}},
    "word_count": {"text": "one two three"},
}


async def test_each_action_answers_in_its_documented_mode_with_documented_data(start_server, tmp_path):
    """Sync actions answer `success`, async ones `queued` with the documented estimate
    and then a `result`; every answer validates (conftest) against the action's schema."""
    data_dir = tmp_path / "d"
    seed(data_dir, "tenant-1", 500)
    s = start_server(data_dir=data_dir)
    assert set(VALID_PAYLOADS) == set(handlers()) - SERVICE_ACTIONS
    async with connect(s.ws_url(s.token())) as ws:
        for action, payload in VALID_PAYLOADS.items():
            spec = handlers()[action]
            assert errors_of(payload, handler_payload_pointer(action)) is None
            if action in NEEDS_A_FAILED_REQUEST:
                continue
            first = await call(ws, f"m-{action}", action, payload, timeout=30)
            if spec["mode"] == "sync":
                assert_success(first, f"m-{action}")
                continue
            assert first["type"] == "response" and first["response"]["status"] == "queued", first
            assert first["response"]["estimated_duration"] == spec["estimated_duration_s"]
            _, last = await until_terminal(ws, f"m-{action}", timeout=120)
            assert last["type"] == "result" and last["result"]["success"], last

        snap = assert_success(await call(ws, "sub", "subscribe", {"request_id": "m-delay"}), "sub")
        assert snap["status"] == "succeeded" and snap["action"] == "delay"
        _, stored = await recv_for(ws, "m-delay", lambda m: True)
        assert stored["type"] == "result"

        await request(ws, "long", "delay", {"duration_ms": 60_000, "steps": 600})
        await recv_for(ws, "long", lambda m: m["type"] == "response")
        answer = assert_success(await call(ws, "c", "cancel", {"request_id": "long"}), "c")
        assert answer["status"] in ("cancelled", "cancelling")
        _, last = await until_terminal(ws, "long")
        assert_error(last, "CANCELLED", "long", retryable=False)


# (action, payload): the schema and the server must agree on whether it is valid.
PAYLOAD_CASES = [
    ("delay", {"duration_ms": 0}),
    ("delay", {"duration_ms": 600_000, "steps": 1000}),
    ("delay", {}),
    ("delay", {"duration_ms": -1}),
    ("delay", {"duration_ms": 600_001}),
    ("delay", {"duration_ms": 10, "steps": 0}),
    ("delay", {"duration_ms": 10, "steps": 1001}),
    ("delay", {"duration_ms": "10"}),
    ("delay", {"duration_ms": 1.5}),
    ("generate_report", {"start_date": "01/20/2024", "end_date": "2024-01-31", "format": "pdf", "report_type": "monthly"}),
    ("generate_report", {"start_date": "2024-01-01", "end_date": "2024-01-31", "format": "PDF", "report_type": "monthly"}),
    ("generate_report", {"start_date": "2024-01-01", "end_date": "2024-01-31", "format": "pdf", "report_type": "weekly"}),
    ("generate_report", {"start_date": "2024-01-01", "end_date": "2024-01-31", "format": "pdf"}),
    ("generate_report", {"start_date": "2024-01-01", "end_date": "2024-01-31", "format": "pdf", "report_type": "custom",
                         "include_charts": "yes"}),
    ("generate_report", {"start_date": "2024-01-01", "end_date": "2024-01-31", "format": "pdf", "report_type": "custom",
                         "filters": {"category": ""}}),
    ("generate_report", {"start_date": "2024-01-01", "end_date": "2024-01-31", "format": "pdf", "report_type": "custom",
                         "filters": "electronics"}),
    ("stream_append", {"stream_id": "ok.id:1-2_3", "records": [{"a": 1}]}),
    ("stream_append", {"stream_id": "bad id", "records": [{"a": 1}]}),
    ("stream_append", {"stream_id": "s", "records": []}),
    ("stream_append", {"stream_id": "s", "records": [{"a": {"nested": 1}}]}),
    ("stream_append", {"stream_id": "x" * 129, "records": [{"a": 1}]}),
    ("process_data", {"pipeline": "sorting", "data_source": {"type": "file", "path": "/a.csv"}, "output": {"format": "json"}}),
    ("process_data", {"pipeline": "regression", "data_source": {"type": "ftp"}, "output": {"format": "json"}}),
    ("process_data", {"pipeline": "regression", "data_source": {"type": "file"}, "output": {"format": "json"}}),
    ("process_data", {"pipeline": "regression", "data_source": {"type": "file", "path": "/a.csv"}, "output": {"format": "xml"}}),
    ("process_data", {"pipeline": "regression", "data_source": {"type": "file", "path": "/a.csv"}, "output": {"format": "csv"},
                      "options": {"test_fraction": 0}}),
    ("process_data", {"pipeline": "regression", "data_source": {"type": "file", "path": "/a.csv"}, "output": {"format": "csv"},
                      "options": {"model": "svm"}}),
    ("process_data", {"pipeline": "regression", "data_source": {"type": "file", "path": "/a.csv"}, "output": {"format": "csv"},
                      "options": {"max_iterations": 10_001}}),
    ("word_count", {"text": ""}),
    ("word_count", {"text": 3}),
    ("word_count", {}),
    ("subscribe", {}),
    ("subscribe", {"request_id": ""}),
    ("cancel", {"request_id": 7}),
    ("jobs.list", {"limit": 0}),
    ("jobs.list", {"state": ["queued", "done"]}),
    ("jobs.get", {"request_id": "unknown"}),
    ("jobs.purge", {"older_than": -5}),
]


@pytest.mark.parametrize("action,payload", PAYLOAD_CASES,
                         ids=[f"{a}-{i}" for i, (a, _) in enumerate(PAYLOAD_CASES)])
async def test_payload_schemas_accept_and_refuse_what_the_server_does(server, action, payload):
    schema_ok = errors_of(payload, handler_payload_pointer(action)) is None
    async with connect(server.ws_url(server.token())) as ws:
        msg = await call(ws, "p1", action, payload)
    server_refused = msg["type"] == "error" and msg["error"]["code"] == "VALIDATION_ERROR"
    assert schema_ok != server_refused, f"schema says valid={schema_ok}, server answered {msg}"


@pytest.mark.parametrize("flags,token_kw,close_code", [
    ((), None, 4401),
    (("--allowed-tenants", "other"), {}, 4403),
])
async def test_connection_refusals_match_the_close_code_table(start_server, flags, token_kw, close_code):
    s = start_server(*flags)
    url = s.ws_url(s.token(**token_kw) if token_kw is not None else None)
    msgs, code = await expect_rejected(url)
    assert code == close_code
    entry = document()["x-close-codes"][str(code)]
    assert len(msgs) == 1, msgs
    err = msgs[0]["error"]
    assert err["request_id"] is None and err["code"] == entry["error_code"]
    assert err["details"]["reason"] in entry["reasons"]


async def test_connection_rate_refusal_matches_the_close_code_table(start_server):
    s = start_server("--max-connections-per-minute", "1")
    tok = s.token()
    async with connect(s.ws_url(tok)) as ws:
        assert_success(await call(ws, "h", "health"), "h")
        msgs, code = await expect_rejected(s.ws_url(tok))
    entry = document()["x-close-codes"]["4429"]
    assert code == 4429
    assert msgs[0]["error"]["code"] == entry["error_code"] and msgs[0]["error"]["details"]["reason"] in entry["reasons"]


def off_schema(monkeypatch):
    """Makes every documented action's result schema `DelayResult`, so a health answer
    no longer validates (to prove that the hook sees a message)."""
    monkeypatch.setattr(protocol_schema, "handler_result_pointer",
                        lambda action: "#/components/schemas/DelayResult" if action == "health" else None)


async def test_a_direct_ws_recv_is_validated(server, monkeypatch):
    off_schema(monkeypatch)
    try:
        async with connect(server.ws_url(server.token())) as ws:
            await request(ws, "h", "health")
            with pytest.raises(SchemaViolation, match="health data"):
                await asyncio.wait_for(ws.recv(), 10)
            await request(ws, "e", "echo", {"x": 1})
            assert (await recv(ws))["response"]["data"] == {"x": 1}  # other actions still pass
    finally:
        protocol_schema.violations.clear()


async def test_a_raw_client_read_is_validated(server, monkeypatch):
    off_schema(monkeypatch)
    raw = RawWs(server.port, f"/production?Authorization={server.token()}")
    try:
        raw.send_json({"id": "h", "action": "health"})
        with pytest.raises(SchemaViolation, match="health data"):
            await asyncio.to_thread(raw.read_message)
    finally:
        raw.close()
        protocol_schema.violations.clear()


def test_the_checker_refuses_messages_off_the_schema():
    checker = protocol_schema.ProtocolChecker()
    checker.sent('{"id":"d1","action":"delay","payload":{"duration_ms":1}}')
    good = '{"type":"result","result":{"request_id":"d1","success":true,"data":{"slept_ms":1,"steps":1},' \
           '"metadata":{"total_processing_time":0.01,"handler":"delay","attempts":1}}}'
    checker.received(good)
    bad = [
        '{"type":"error","error":{"request_id":"1","code":"TIMEOUT","message":"m","details":{"time_limit_ms":5}}}',
        '{"type":"error","error":{"request_id":"1","code":"SLOW","message":"m","details":{"retryable":true}}}',
        '{"type":"error","error":{"request_id":null,"code":"UNAUTHORIZED","message":"m","details":{"retryable":false,'
        '"reason":"just_because"}}}',
        '{"type":"response","response":{"request_id":"1","status":"success","data":{},"metadata":{},"extra":1}}',
        '{"type":"response","response":{"request_id":"d1","status":"success","data":{"slept_ms":1},'
        '"metadata":{"processing_time":0.1}}}',
        '{"type":"progress","progress":{"request_id":"1","progress":101,"message":"","metadata":{},'
        '"timestamp":"2024-01-01T00:00:00Z"}}',
        good.replace('"slept_ms":1,', ""),
        '{"type":"hello"}',
        "not json",
    ]
    for frame in bad:
        with pytest.raises(SchemaViolation):
            checker.received(frame)
    protocol_schema.violations.clear()
