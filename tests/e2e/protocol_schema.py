"""Validates server messages against docs/asyncapi.yaml (the machine-readable protocol).

`ProtocolChecker` follows one connection: `sent(frame)` notes which action each
request id names, `received(frame)` validates a server frame against its envelope
schema and, for a successful `response` or `result` of a built-in action, its `data`
against that action's result schema (`x-handlers.<action>.result`). A frame that does
not validate raises `SchemaViolation` with the schema error and the frame.

conftest.py installs it on every `websockets` connection and helpers_e2e.RawWs calls
it, so every message an end-to-end test receives is checked.
"""
from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT_PATH = ROOT / "docs" / "asyncapi.yaml"


class SchemaViolation(AssertionError):
    """A server message that does not match docs/asyncapi.yaml."""


# Every violation seen since the last clear(), also those a test caught and swallowed
# (conftest fails the test with them afterwards). Appended from reader threads too.
violations: list[str] = []
# Messages validated in this test session (reported in pytest's summary).
checked_total = 0


@functools.cache
def document() -> dict[str, Any]:
    with DOCUMENT_PATH.open(encoding="utf-8") as f:
        return yaml.safe_load(f)


def _resolve(pointer: str) -> Any:
    node: Any = document()
    for part in pointer.removeprefix("#/").split("/"):
        node = node[part]
    return node


def _inlined(node: Any) -> Any:
    """`node` with every local `$ref` replaced by what it points to (the document's
    schemas are not recursive), so validating needs no reference lookups: about ten
    times faster, which matters for tests that receive thousands of messages."""
    if isinstance(node, dict):
        if set(node) == {"$ref"}:
            return _inlined(_resolve(node["$ref"]))
        return {k: _inlined(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_inlined(v) for v in node]
    return node


@functools.cache
def validator(pointer: str) -> Draft202012Validator:
    """A validator for the schema at `pointer` ("#/components/schemas/X") of the document."""
    return Draft202012Validator(_inlined(_resolve(pointer)))


def schema_pointer(name: str) -> str:
    return f"#/components/schemas/{name}"


def handler_result_pointer(action: str) -> str | None:
    """Pointer of the result schema of a documented action, or None for other actions."""
    spec = document().get("x-handlers", {}).get(action)
    return spec["result"]["$ref"] if spec else None


def handler_payload_pointer(action: str) -> str | None:
    spec = document().get("x-handlers", {}).get(action)
    return spec["payload"]["$ref"] if spec else None


def errors_of(instance: Any, pointer: str) -> str | None:
    """None when `instance` matches the schema at `pointer`, else the best error, readable."""
    if validator(pointer).is_valid(instance):
        return None
    err = best_match(validator(pointer).iter_errors(instance))
    if err is None:
        return None
    where = "/".join(str(p) for p in err.absolute_path) or "(top)"
    return f"{err.message} at {where} (schema {pointer}, rule {'/'.join(map(str, err.absolute_schema_path))})"


def envelope_pointer(msg: Any) -> str:
    """The most specific envelope schema for a server message."""
    kind = msg.get("type") if isinstance(msg, dict) else None
    body = msg.get(kind) if isinstance(kind, str) else None
    if kind == "response" and isinstance(body, dict):
        status = body.get("status")
        if status == "success":
            return schema_pointer("ResponseSuccessMessage")
        if status == "queued":
            return schema_pointer("ResponseQueuedMessage")
    if kind == "progress":
        return schema_pointer("ProgressMessage")
    if kind == "result":
        return schema_pointer("ResultMessage")
    if kind == "error":
        return schema_pointer("ErrorMessage")
    return schema_pointer("ServerMessage")


def is_connection_level(msg: dict) -> bool:
    """A refusal/expiry notice (the error sent before 4401/4403/4429)."""
    body = msg.get("error")
    if msg.get("type") != "error" or not isinstance(body, dict) or body.get("request_id") is not None:
        return False
    details = body.get("details") if isinstance(body.get("details"), dict) else {}
    return body.get("code") == "UNAUTHORIZED" or details.get("limit") == "connections_per_minute"


class ProtocolChecker:
    """Checks the frames of one connection (see the module docstring)."""

    def __init__(self) -> None:
        self.actions: dict[str, str] = {}
        self.checked = 0

    def sent(self, frame: Any) -> None:
        """Remembers the action of a request frame (ignores anything unreadable)."""
        if isinstance(frame, (bytes, bytearray)):
            try:
                frame = frame.decode()
            except UnicodeDecodeError:
                return
        if not isinstance(frame, str):
            return
        try:
            msg = json.loads(frame)
        except ValueError:
            return
        if isinstance(msg, dict) and isinstance(msg.get("action"), str):
            rid = msg.get("id")
            if isinstance(rid, bool):
                return
            if isinstance(rid, (str, int)):
                self.actions[str(rid)] = msg["action"]

    def received(self, frame: Any) -> dict:
        """Validates one server frame; returns it parsed. Raises SchemaViolation."""
        if not isinstance(frame, str):
            violations.append(report := f"server sent a non-text frame: {frame[:200]!r}")
            raise SchemaViolation(report)
        try:
            msg = json.loads(frame)
        except ValueError as e:
            violations.append(report := f"server sent invalid JSON ({e}): {frame[:300]!r}")
            raise SchemaViolation(report) from None
        self.check(msg, frame)
        return msg

    def check(self, msg: Any, frame: str | None = None) -> None:
        global checked_total
        self.checked += 1
        checked_total += 1
        problems = []
        pointer = envelope_pointer(msg)
        if (problem := errors_of(msg, pointer)) is not None:
            problems.append(problem)
        elif is_connection_level(msg):
            if (problem := errors_of(msg, schema_pointer("ConnectionRefusedMessage"))) is not None:
                problems.append(problem)
        else:
            action, data = self._handler_data(msg)
            result_pointer = handler_result_pointer(action) if action else None
            if result_pointer and (problem := errors_of(data, result_pointer)) is not None:
                problems.append(f"{action} data: {problem}")
        if problems:
            text = frame if frame is not None else json.dumps(msg)
            report = f"{'; '.join(problems)}\nmessage: {text[:1500]}"
            violations.append(report)
            raise SchemaViolation(report)

    def _handler_data(self, msg: dict) -> tuple[str | None, Any]:
        """(action, data) of a successful answer whose action is known, else (None, None)."""
        if msg["type"] == "response" and msg["response"]["status"] == "success":
            body = msg["response"]
            return self.actions.get(body["request_id"]), body["data"]
        if msg["type"] == "result" and msg["result"]["success"]:
            body = msg["result"]
            return body["metadata"]["handler"], body["data"]
        return None, None
