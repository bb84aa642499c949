"""The SDK's codes, close-code policy, message shapes and defaults equal the protocol
document (docs/asyncapi.yaml in the repository): a change on either side that is not
made on the other fails here."""
from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import pytest

yaml = pytest.importorskip("yaml")

from streamer_client import (  # noqa: E402
    CloseCode,
    ErrorCode,
    ProgressUpdate,
    StreamerClient,
    StreamerError,
    backoff_delay,
    error_from_close,
    reconnect_policy,
)
from streamer_client.errors import CLIENT_ERROR_CODES, SERVER_ERROR_CODES  # noqa: E402

DOCUMENT = Path(__file__).resolve().parents[3] / "docs" / "asyncapi.yaml"


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    if not DOCUMENT.exists():
        pytest.skip("docs/asyncapi.yaml not found (SDK outside its repository)")
    return yaml.safe_load(DOCUMENT.read_text(encoding="utf-8"))


def schemas(doc: dict[str, Any]) -> dict[str, Any]:
    return doc["components"]["schemas"]


def test_error_codes_are_the_documents(doc):
    server = schemas(doc)["ErrorCode"]
    assert [c.value for c in SERVER_ERROR_CODES] == server["enum"]
    assert [c.value for c in CLIENT_ERROR_CODES] == [c["code"] for c in doc["x-client"]["codes"]]
    assert {c.value for c in ErrorCode} == set(server["enum"]) | {c["code"] for c in doc["x-client"]["codes"]}


def test_default_retryable_is_the_documents(doc):
    expected = dict(schemas(doc)["ErrorCode"]["x-retryable"])
    expected.update({c["code"]: c["retryable"] for c in doc["x-client"]["codes"]})
    for code, retryable in expected.items():
        assert StreamerError.create(code, "m").retryable is retryable, code


def test_close_codes_map_as_documented(doc):
    table = doc["x-close-codes"]
    named = {v for k, v in vars(CloseCode).items() if k.isupper()}
    assert {int(c) for c in table} <= named
    for code, entry in table.items():
        client = entry["client"]
        err = error_from_close(int(code))
        assert (err.code, err.retryable, err.close_code) == (client["error_code"], client["retryable"], int(code)), code
        assert reconnect_policy(int(code)).value == client["reconnect"], code
    assert reconnect_policy(1006).value == "backoff"


def test_defaults_are_the_documents(doc):
    d = doc["x-client"]["defaults"]
    params = inspect.signature(StreamerClient.__init__).parameters
    assert params["reconnect_attempts"].default == d["reconnect_attempts"]
    assert params["reconnect_base_delay"].default * 1000 == d["reconnect_base_delay_ms"]
    assert params["reconnect_max_delay"].default * 1000 == d["reconnect_max_delay_ms"]
    assert params["max_in_flight"].default == d["max_in_flight"]
    assert params["max_message_bytes"].default == d["max_message_bytes"]
    assert params["rate_limit_retries"].default == d["rate_limit_retries"]
    assert inspect.signature(backoff_delay).parameters["jitter"].default == d["reconnect_jitter"]


def test_backoff_stays_within_the_documented_interval(doc):
    jitter = doc["x-client"]["defaults"]["reconnect_jitter"]
    for n in range(6):
        nominal = min(30.0, 2.0**n)
        assert backoff_delay(n, rng=lambda: 0.0) == pytest.approx(nominal * (1 - jitter))
        assert backoff_delay(n, rng=lambda: 1.0) == pytest.approx(nominal)


def test_progress_update_has_the_documents_fields(doc):
    body = schemas(doc)["ProgressBody"]
    assert set(ProgressUpdate.__annotations__) == set(body["properties"]) == set(body["required"])


def test_server_error_bodies_from_the_documents_examples_parse(doc):
    for name in ("Error", "ConnectionRefused"):
        for example in doc["components"]["messages"][name]["examples"]:
            body = example["payload"]["error"]
            err = StreamerError.from_body(body)
            assert err.code == body["code"] and err.request_id == body["request_id"]
            assert err.retryable is body["details"]["retryable"]
