"""What a remote handler receives (:class:`Job`) and raises (:class:`JobError`).

A handler is ``async def handler(job: Job) -> dict``. Its return value completes
the job; :class:`JobError` fails it with the code, details and retryability the
handler chose; any other exception fails it with ``INTERNAL_ERROR`` (retryable).
When the server cancels the job (a client's cancel, the time limit, a server
drain) the handler's task is cancelled, so it sees :class:`asyncio.CancelledError`
at its next ``await``; :attr:`Job.cancelled` is set first, for code that polls.
The job is then over for the server: nothing more is reported about it.
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import Any

from ..errors import ErrorCode, StreamerError


class JobError(StreamerError):
    """Raised by a handler to fail its job with a chosen error.

    ``JobError("VALIDATION_ERROR", "no such image", {"field": "url"}, retryable=False)``
    ends the job at once; a retryable error is retried by the server (with backoff)
    until the action's ``max_attempts`` is reached. ``retryable`` defaults to the
    seed's table for ``code`` (``INTERNAL_ERROR``/``TIMEOUT``: yes, others: no).
    """

    def __init__(
        self,
        code: str = ErrorCode.INTERNAL_ERROR,
        message: str = "",
        details: Mapping[str, Any] | None = None,
        retryable: bool | None = None,
    ) -> None:
        super().__init__(code, message, details, None, retryable)

    def to_wire(self) -> dict[str, Any]:
        """The ``error`` object of a worker ``fail`` frame."""
        return {"code": self.code, "message": self.message, "details": self.details, "retryable": self.retryable}


SendFrame = Callable[[dict[str, Any]], None]


class Job:
    """One attempt of one job, as pushed by the server.

    Attributes:
        job_id: the server's job id (with ``fence``, names this attempt).
        fence: the lease's fencing token; every frame about the job carries it.
        action: the action name the job was submitted for.
        request_id: the client's request id.
        payload: the request payload, already validated against the action's schema.
        identity: the submitting client's ``user_id``, ``tenant_id`` and ``permissions``.
        attempt: 1 for the first attempt, 2 after one lapse or retryable failure, ...
        time_limit_ms: the time the server allows this attempt.
        trace_id: the request's trace id, if any.
        cancelled: set when the server cancels the job (or it lost its lease).
        cancel_reason: ``"cancelled"``, ``"timeout"``, ``"shutdown"`` or ``"stale"``
            once :attr:`cancelled` is set.
    """

    def __init__(self, msg: Mapping[str, Any], send: SendFrame, *, progress_interval: float = 0.05) -> None:
        self.job_id: str = str(msg["job_id"])
        self.fence: Any = msg.get("fence")
        self.action: str = str(msg.get("action", ""))
        self.request_id: str = str(msg.get("request_id", ""))
        payload = msg.get("payload")
        self.payload: dict[str, Any] = dict(payload) if isinstance(payload, Mapping) else {}
        identity = msg.get("identity")
        self.identity: dict[str, Any] = dict(identity) if isinstance(identity, Mapping) else {}
        attempt = msg.get("attempt")
        self.attempt: int = attempt if isinstance(attempt, int) else 1
        limit = msg.get("time_limit_ms")
        self.time_limit_ms: int | None = limit if isinstance(limit, int) else None
        trace = msg.get("trace_id")
        self.trace_id: str | None = None if trace is None else str(trace)
        self.cancelled = asyncio.Event()
        self.cancel_reason: str | None = None
        self._send = send
        self._progress_interval = progress_interval
        self._last_sent = 0.0
        self._pending: dict[str, Any] | None = None
        self._flush: asyncio.TimerHandle | None = None
        self._finished = False

    def __repr__(self) -> str:
        return f"Job(job_id={self.job_id!r}, action={self.action!r}, attempt={self.attempt})"

    async def report_progress(
        self, percent: float, message: str | None = None, metadata: Mapping[str, Any] | None = None
    ) -> None:
        """Reports progress (``percent`` in [0, 100]) to the job's clients.

        Updates closer together than ``progress_interval`` are coalesced: the
        latest one is sent when the interval has passed, earlier ones are dropped
        (the server coalesces again for clients). Never blocks on the network.
        """
        if self._finished:
            return
        if not 0 <= percent <= 100:
            raise ValueError("percent must be within [0, 100]")
        frame: dict[str, Any] = {"type": "progress", "job_id": self.job_id, "fence": self.fence, "percent": percent}
        if message is not None:
            frame["message"] = message
        if metadata is not None:
            frame["metadata"] = dict(metadata)
        now = time.monotonic()
        wait = self._last_sent + self._progress_interval - now
        if wait <= 0 and self._flush is None:
            self._last_sent = now
            self._send(frame)
            return
        self._pending = frame
        if self._flush is None:
            self._flush = asyncio.get_running_loop().call_later(max(wait, 0.0), self._send_pending)

    def _send_pending(self) -> None:
        self._flush = None
        frame, self._pending = self._pending, None
        if frame is not None and not self._finished:
            self._last_sent = time.monotonic()
            self._send(frame)

    def _cancel(self, reason: str) -> None:
        """Marks the job cancelled (the caller cancels the handler task)."""
        if self.cancel_reason is None:
            self.cancel_reason = reason
        self.cancelled.set()

    def _finish(self) -> None:
        """No progress is sent after the job's outcome."""
        self._finished = True
        if self._flush is not None:
            self._flush.cancel()
            self._flush = None
        self._pending = None
