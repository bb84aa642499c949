"""A fake of the server's worker endpoint (``/{stage}/workers``) for the
StreamerWorker unit tests: it checks the bearer token, answers ``register`` with
``registered`` (or an ``error`` for an action the token does not allow), acks every
``complete``/``fail``, and lets the test push ``job`` and ``cancel`` frames and
read what the worker sent, connection by connection."""
from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed


class FakeWorkerConn:
    def __init__(self, ws: ServerConnection, token: str | None) -> None:
        self.ws = ws
        self.token = token
        self.path = ws.request.path if ws.request else ""
        self.frames: list[dict[str, Any]] = []  # every frame received
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.register: dict[str, Any] | None = None
        self.closed = asyncio.Event()

    async def recv(self, kind: str | None = None, timeout: float = 5.0) -> dict[str, Any]:
        """The next frame (of type ``kind``, skipping others such as heartbeats)."""
        async with asyncio.timeout(timeout):
            while True:
                frame = await self._queue.get()
                if kind is None or frame.get("type") == kind:
                    return frame

    def received(self, kind: str) -> list[dict[str, Any]]:
        return [f for f in self.frames if f.get("type") == kind]

    async def send(self, frame: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(frame))

    async def push_job(self, job_id: str, payload: dict[str, Any] | None = None, *, fence: int = 1,
                       attempt: int = 1, action: str | None = None, **extra: Any) -> None:
        assert self.register is not None, "push after registration"
        await self.send({
            "type": "job", "job_id": job_id, "fence": fence,
            "action": action or self.register["actions"][0]["name"], "request_id": f"req-{job_id}",
            "payload": payload or {}, "identity": {"user_id": "u1", "tenant_id": "t1", "permissions": ["write"]},
            "attempt": attempt, "time_limit_ms": 60000, "trace_id": "trace-1", **extra})

    async def cancel(self, job_id: str, fence: int = 1, reason: str = "cancelled") -> None:
        await self.send({"type": "cancel", "job_id": job_id, "fence": fence, "reason": reason})

    async def close(self, code: int = 1012, reason: str = "") -> None:
        await self.ws.close(code, reason)


class FakeWorkerServer:
    def __init__(self, *, tokens: dict[str, list[str]] | None = None, heartbeat_ms: int = 5000,
                 lease_ttl_ms: int = 15000, auto_ack: bool = True) -> None:
        self.tokens = tokens if tokens is not None else {"wtok": ["resize", "other"]}
        self.heartbeat_ms = heartbeat_ms
        self.lease_ttl_ms = lease_ttl_ms
        self.auto_ack = auto_ack
        self.refuse_register: dict[str, Any] | None = None  # an error body to answer register with
        self.conns: list[FakeWorkerConn] = []
        self._new_conn: asyncio.Queue[FakeWorkerConn] = asyncio.Queue()
        self._server: Server | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/production"

    async def start(self) -> FakeWorkerServer:
        self._server = await serve(self._handle, "127.0.0.1", self.port, process_request=self._route)
        self.port = list(self._server.sockets)[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None

    async def next_conn(self, timeout: float = 5.0) -> FakeWorkerConn:
        """The next connection that registered."""
        async with asyncio.timeout(timeout):
            return await self._new_conn.get()

    @staticmethod
    def _route(ws: ServerConnection, request: Any) -> Any:
        """Only ``/production/workers`` upgrades; anything else is HTTP 404."""
        if request.path.split("?")[0] != "/production/workers":
            return ws.respond(404, "not found\n")
        return None

    async def _handle(self, ws: ServerConnection) -> None:
        auth = ws.request.headers.get("Authorization", "") if ws.request else ""
        token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else None
        conn = FakeWorkerConn(ws, token)
        self.conns.append(conn)
        try:
            if token not in self.tokens:
                await ws.close(4401, "invalid_token")
                return
            async for raw in ws:
                frame = json.loads(raw)
                conn.frames.append(frame)
                kind = frame.get("type")
                if kind == "register" and conn.register is None:
                    names = [a["name"] for a in frame["actions"]]
                    if self.refuse_register is not None:
                        await conn.send({"type": "error", "error": self.refuse_register})
                        continue
                    if any(n not in self.tokens[token] for n in names):
                        await conn.send({"type": "error", "error": {
                            "code": "UNAUTHORIZED", "message": "action not in token",
                            "details": {"actions": names}}})
                        continue
                    conn.register = frame
                    await conn.send({"type": "registered", "actions": names,
                                     "lease_ttl_ms": self.lease_ttl_ms, "heartbeat_ms": self.heartbeat_ms})
                    self._new_conn.put_nowait(conn)
                elif kind in ("complete", "fail") and self.auto_ack:
                    await conn.send({"type": "ack", "job_id": frame["job_id"]})
                conn._queue.put_nowait(frame)
        except ConnectionClosed:
            pass
        finally:
            conn.closed.set()
