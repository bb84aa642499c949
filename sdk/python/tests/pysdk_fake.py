"""A small fake Streamer server for the SDK's unit tests, built on
``websockets.asyncio.server.serve``. It speaks docs/protocol.md closely enough to
exercise the client: sync and async handlers, progress, subscribe, cancel,
idempotent async ids, token checks with 4401/4403 closes, RATE_LIMITED, the
per-connection concurrency limit and the 1 MB limit. Its job table lives on the
object, so jobs survive dropped connections and stop()/start() on the same port
(a "restart" with a durable store).

Hooks let a test take over: ``fake.intercept = async fn(conn, msg) -> bool``
runs before normal handling and returns True when it handled the message.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

CONTROL = {"subscribe", "cancel"}


def now() -> str:
    return "2024-01-20T10:30:45Z"


@dataclass
class Job:
    id: str
    owner: str  # token's user
    action: str
    payload: dict[str, Any]
    status: str = "queued"
    progress: dict[str, Any] | None = None
    terminal: dict[str, Any] | None = None
    subscribers: set[ServerConnection] = field(default_factory=set)
    origin: ServerConnection | None = None
    task: asyncio.Task[None] | None = None
    cancel_requested: bool = False


class FakeStreamer:
    def __init__(self, *, tokens: dict[str, dict[str, Any]] | None = None, max_concurrent: int = 10,
                 max_size: int = 1_048_576) -> None:
        # token -> {"sub", "perms", "tenant_ok"}
        self.tokens = tokens if tokens is not None else {"tok": {"sub": "u1", "perms": {"read", "write"}}}
        self.max_concurrent = max_concurrent
        self.max_size = max_size
        self.jobs: dict[str, Job] = {}
        self.received: list[dict[str, Any]] = []  # every request frame, in order
        self.connections: list[ServerConnection] = []
        self.live: set[ServerConnection] = set()
        self.handshake_tokens: list[str | None] = []
        self.rate_limit_next = 0  # answer the next N (non-control) requests with RATE_LIMITED
        self.retry_after_ms = 50
        self.rate_limited_sent = 0
        self.max_seen_concurrency = 0
        self.intercept: Callable[[ServerConnection, dict[str, Any]], Awaitable[bool]] | None = None
        self.refuse_connections = False
        self._server: Server | None = None
        self.port = 0
        self._conn_user: dict[ServerConnection, str] = {}
        self._conn_token: dict[ServerConnection, str] = {}
        self._conn_inflight: dict[ServerConnection, set[str]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    # ----------------------------------------------------------------- lifecycle
    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/production"

    async def start(self, port: int = 0) -> FakeStreamer:
        self._server = await serve(self._handle, "127.0.0.1", port or self.port, max_size=self.max_size)
        self.port = list(self._server.sockets)[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        """Stops listening and drops every connection without a close frame
        (like a crash); jobs keep running in the 'store'."""
        if self._server is not None:
            for ws in list(self.live):
                ws.transport.abort()
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
            self._server = None

    async def shutdown(self) -> None:
        await self.stop()
        for job in self.jobs.values():
            if job.task:
                job.task.cancel()

    async def close_all(self, code: int, reason: str = "") -> None:
        for ws in list(self.live):
            await ws.close(code, reason)

    async def expire(self, token: str) -> None:
        """The token expires: live connections using it get token_expired + 4401."""
        self.tokens.pop(token, None)
        for ws, tok in list(self._conn_token.items()):
            if tok == token and ws in self.live:
                await self._send(ws, {"type": "error", "error": {"request_id": None, "code": "UNAUTHORIZED",
                                      "message": "token expired", "details": {"reason": "token_expired",
                                                                              "retryable": False}}})
                await ws.close(4401, "token_expired")

    def requests_for(self, action: str) -> list[dict[str, Any]]:
        return [m for m in self.received if m.get("action") == action]

    # ------------------------------------------------------------------ protocol
    async def _send(self, ws: ServerConnection, msg: dict[str, Any]) -> None:
        with contextlib.suppress(ConnectionClosed):
            await ws.send(json.dumps(msg))

    async def _handle(self, ws: ServerConnection) -> None:
        auth = ws.request.headers.get("Authorization") if ws.request else None
        token = auth[7:] if auth and auth.startswith("Bearer ") else None
        self.handshake_tokens.append(token)
        if self.refuse_connections:
            ws.transport.abort()
            return
        info = self.tokens.get(token or "")
        if info is None:
            await self._send(ws, {"type": "error", "error": {"request_id": None, "code": "UNAUTHORIZED",
                                  "message": "invalid token", "details": {"reason": "bad_signature",
                                                                          "retryable": False}}})
            await ws.close(4401, "bad_signature")
            return
        if info.get("forbidden"):
            await self._send(ws, {"type": "error", "error": {"request_id": None, "code": "UNAUTHORIZED",
                                  "message": "tenant not allowed", "details": {"reason": "forbidden_tenant"}}})
            await ws.close(4403, "forbidden_tenant")
            return
        self.connections.append(ws)
        self.live.add(ws)
        self._conn_user[ws] = info["sub"]
        self._conn_token[ws] = token or ""
        self._conn_inflight[ws] = set()
        try:
            async for raw in ws:
                msg = json.loads(raw)
                self.received.append(msg)
                if self.intercept is not None and await self.intercept(ws, msg):
                    continue
                await self._on_request(ws, info, msg)
        except ConnectionClosed:
            pass
        finally:
            self.live.discard(ws)
            for job in self.jobs.values():
                job.subscribers.discard(ws)

    def _err(self, rid: Any, code: str, message: str, **details: Any) -> dict[str, Any]:
        details.setdefault("retryable", code in {"INTERNAL_ERROR", "TIMEOUT", "RATE_LIMITED"})
        return {"type": "error", "error": {"request_id": rid, "code": code, "message": message, "details": details}}

    def _ok(self, rid: str, data: Any) -> dict[str, Any]:
        return {"type": "response", "response": {"request_id": rid, "status": "success", "data": data,
                                                 "metadata": {"processing_time": 0.0001}}}

    async def _on_request(self, ws: ServerConnection, info: dict[str, Any], msg: dict[str, Any]) -> None:
        rid = msg.get("id")
        action = msg.get("action")
        payload = msg.get("payload") or {}
        user = info["sub"]
        if action in CONTROL:
            await self._control(ws, user, rid, action, payload)
            return
        job = self.jobs.get(rid)
        if job is not None and job.owner == user:  # idempotent async id
            if job.terminal is not None:
                await self._send(ws, job.terminal)
            else:
                job.subscribers.add(ws)
                await self._send(ws, {"type": "response", "response": {"request_id": rid, "status": "queued",
                                                                       "message": "Request queued for processing",
                                                                       "estimated_duration": 1}})
            return
        if self.rate_limit_next > 0:
            self.rate_limit_next -= 1
            self.rate_limited_sent += 1
            await self._send(ws, self._err(rid, "RATE_LIMITED", "Too many requests", limit="test",
                                           retry_after_ms=self.retry_after_ms))
            return
        inflight = self._conn_inflight[ws]
        if len(inflight) >= self.max_concurrent:
            self.rate_limited_sent += 1
            await self._send(ws, self._err(rid, "RATE_LIMITED", "Too many concurrent requests",
                                           limit="concurrent_requests", retry_after_ms=self.retry_after_ms))
            return
        if action == "health":
            await self._send(ws, self._ok(rid, {"status": "healthy", "timestamp": now(), "version": "fake"}))
        elif action == "echo":
            await self._send(ws, self._ok(rid, payload))
        elif action == "slow":
            inflight.add(rid)
            self._track()

            async def answer() -> None:
                try:
                    await asyncio.sleep(payload.get("ms", 100) / 1000)
                    await self._send(ws, self._ok(rid, {"slept": True}))
                finally:
                    inflight.discard(rid)
            self._tasks.add(asyncio.create_task(answer()))
        elif action == "hang":
            pass  # never answers
        elif action == "write_only":
            if "write" not in info["perms"]:
                await self._send(ws, self._err(rid, "UNAUTHORIZED", "missing permission write",
                                               permission="write"))
            else:
                await self._send(ws, self._ok(rid, {}))
        elif action == "process_data" and "write" not in info["perms"]:
            await self._send(ws, self._err(rid, "UNAUTHORIZED", "missing permission write", permission="write"))
        elif action == "process_data":  # the README example: a short async job
            payload = {"duration_ms": 60, "steps": 3}
            job = Job(rid, user, action, payload, origin=ws)
            job.subscribers.add(ws)
            self.jobs[rid] = job
            await self._send(ws, {"type": "response", "response": {"request_id": rid, "status": "queued",
                                                                   "message": "Request queued for processing",
                                                                   "estimated_duration": 300}})
            job.task = asyncio.create_task(self._run_job(job))
        elif action == "delay":
            d = payload.get("duration_ms")
            if not isinstance(d, int) or d < 0:
                await self._send(ws, self._err(rid, "VALIDATION_ERROR", "duration_ms must be >= 0",
                                               field="duration_ms", expected="integer >= 0", received=d))
                return
            job = Job(rid, user, action, payload, origin=ws)
            job.subscribers.add(ws)
            self.jobs[rid] = job
            inflight.add(rid)
            self._track()
            await self._send(ws, {"type": "response", "response": {"request_id": rid, "status": "queued",
                                                                   "message": "Request queued for processing",
                                                                   "estimated_duration": d / 1000}})
            job.task = asyncio.create_task(self._run_job(job))
        elif action == "fail_async":
            job = Job(rid, user, action, payload, origin=ws)
            job.subscribers.add(ws)
            self.jobs[rid] = job
            await self._send(ws, {"type": "response", "response": {"request_id": rid, "status": "queued",
                                                                   "message": "Request queued for processing",
                                                                   "estimated_duration": 1}})
            job.terminal = self._err(rid, payload.get("code", "INTERNAL_ERROR"), "handler failed")
            job.status = "failed"
            await self._broadcast(job, job.terminal)
        else:
            await self._send(ws, self._err(rid, "INVALID_ACTION", f"unknown action {action}", action=action))

    def _track(self) -> None:
        for s in self._conn_inflight.values():
            self.max_seen_concurrency = max(self.max_seen_concurrency, len(s))

    async def _broadcast(self, job: Job, msg: dict[str, Any]) -> None:
        for sub in list(job.subscribers):
            await self._send(sub, msg)

    async def _run_job(self, job: Job) -> None:
        steps = int(job.payload.get("steps", 1))
        per = job.payload["duration_ms"] / 1000 / steps
        job.status = "running"
        try:
            for i in range(steps):
                await asyncio.sleep(per)
                if job.cancel_requested:
                    break
                job.progress = {"request_id": job.id, "progress": round(100 * (i + 1) / steps, 2),
                                "message": f"step {i + 1}/{steps}", "metadata": {"step": i + 1},
                                "timestamp": now()}
                await self._broadcast(job, {"type": "progress", "progress": job.progress})
            if job.cancel_requested:
                job.status = "cancelled"
                job.terminal = self._err(job.id, "CANCELLED", "request cancelled")
            else:
                job.status = "succeeded"
                job.terminal = {"type": "result", "result": {
                    "request_id": job.id, "success": True,
                    "data": {"slept_ms": job.payload["duration_ms"], "steps": steps},
                    "metadata": {"total_processing_time": 0.1, "handler": "delay", "attempts": 1}}}
            await self._broadcast(job, job.terminal)
        finally:
            for s in self._conn_inflight.values():
                s.discard(job.id)

    async def _control(self, ws: ServerConnection, user: str, rid: Any, action: str,
                       payload: dict[str, Any]) -> None:
        target = payload.get("request_id")
        job = self.jobs.get(target) if isinstance(target, str) else None
        if job is None or job.owner != user:
            await self._send(ws, self._err(rid, "NOT_FOUND", f"request {target} not found"))
            return
        if action == "subscribe":
            await self._send(ws, self._ok(rid, {"request_id": job.id, "action": job.action, "status": job.status,
                                                "attempts": 1, "progress": job.progress,
                                                "created_at": now(), "updated_at": now()}))
            if job.terminal is not None:
                await self._send(ws, job.terminal)
            else:
                job.subscribers.add(ws)
        else:  # cancel
            if job.terminal is not None:
                await self._send(ws, self._ok(rid, {"request_id": job.id, "status": job.status}))
                return
            job.cancel_requested = True
            await self._send(ws, self._ok(rid, {"request_id": job.id, "status": "cancelling"}))
