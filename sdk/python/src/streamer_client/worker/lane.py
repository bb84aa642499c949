"""One action's connection to the server's worker endpoint.

A lane connects, registers its action with ``concurrency`` credits, runs every
``job`` the server pushes as an asyncio task, and reports ``progress``,
``complete`` and ``fail`` with the job's fence. The server never pushes more jobs
than credits, and each complete/fail returns one, so the lane needs no queue.

If the connection drops, the lane reconnects with jittered exponential backoff and
registers again; handlers still running keep running, and their outcome is sent
on the next connection (the server accepts it while the fence is current and
answers ``stale`` otherwise). Outcomes are kept until the server ``ack``s them.
"""
from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from websockets.exceptions import InvalidStatus, InvalidURI

from .. import __version__ as _version
from ..backoff import backoff_delay
from ..connection import Connection
from ..errors import CloseCode, ErrorCode, Reconnect, StreamerError, error_from_close, reconnect_policy
from .job import Job, JobError
from .spec import ActionSpec

logger = logging.getLogger("streamer_client.worker")

TokenGetter = Callable[[bool], Awaitable[str]]
"""``await get(refresh)``: the token to connect with; ``refresh`` asks for a new one."""


class RegistrationError(StreamerError):
    """The server refused to register an action (a spec or schema it rejects, an
    action the token does not allow, a built-in name): fatal for the worker."""


@dataclass(frozen=True)
class LaneOptions:
    """Connection behaviour shared by every lane of a worker (seconds)."""

    reconnect_base_delay: float = 0.5
    reconnect_max_delay: float = 30.0
    open_timeout: float = 10.0
    heartbeat_interval: float = 5.0  # until the server's ``registered`` says otherwise
    progress_interval: float = 0.05


class Lane:
    """Serves one action; see the module docstring."""

    def __init__(self, spec: ActionSpec, url: str, get_token: TokenGetter, can_refresh: bool,
                 options: LaneOptions) -> None:
        self.spec = spec
        self.url = url
        self._get_token = get_token
        self._can_refresh = can_refresh
        self._opts = options
        self._conn: Connection | None = None
        self._registered = asyncio.Event()
        self._draining = False
        self._closed = False
        self._running: dict[str, tuple[Job, asyncio.Task[None]]] = {}
        self._unacked: dict[str, str] = {}  # job_id -> complete/fail frame (JSON text)
        self._quiet = asyncio.Event()  # no handler running, no outcome unacknowledged
        self._quiet.set()
        self._heartbeat_interval = options.heartbeat_interval
        self._resend: asyncio.TimerHandle | None = None
        self.jobs_started = 0
        self.lease_ttl_ms: int | None = None

    # ------------------------------------------------------------------ control
    @property
    def in_flight(self) -> int:
        """Handlers running now."""
        return len(self._running)

    def drain(self) -> None:
        """Takes no new jobs: jobs pushed from now on are failed at once as
        retryable (the server retries them on another worker)."""
        self._draining = True

    async def wait_idle(self) -> None:
        """Returns when no handler runs and the server acknowledged (or refused as
        stale) every outcome. While disconnected the lane keeps reconnecting, so
        outcomes can still be delivered."""
        await self._quiet.wait()

    async def close(self) -> None:
        """Stops the lane: cancels running handlers without reporting (their
        leases lapse and the server retries the jobs elsewhere) and closes."""
        self._closed = True
        if self._resend is not None:
            self._resend.cancel()
            self._resend = None
        for job, task in list(self._running.values()):
            job._cancel("shutdown")
            task.cancel()
        tasks = [t for _, t in self._running.values()]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self._unacked.clear()
        self._update_idle()
        if self._conn is not None:
            await self._conn.close(CloseCode.NORMAL, "worker shutdown")

    # --------------------------------------------------------------- connection
    async def run(self) -> None:
        """Connects, serves and reconnects until :meth:`close`. Raises
        :class:`StreamerError` when the server refuses the worker for good
        (registration refused, 4403, a rejected token that cannot be refreshed)."""
        attempt = 0
        refresh = False
        refreshed_untested = False
        while not self._closed:
            fatal: StreamerError | None = None
            code, reason, server_error = CloseCode.ABNORMAL, "", None
            try:
                token = await self._get_token(refresh)
                refreshed_untested = refresh
                refresh = False
                conn = await Connection.open(self.url, token, open_timeout=self._opts.open_timeout,
                                             user_agent=f"streamer-worker-python/{_version}")
            except (InvalidURI, ValueError) as e:
                raise StreamerError.create(ErrorCode.CONNECTION_FAILED, f"bad worker url: {e}",
                                           {"url": self.url}, retryable=False) from None
            except InvalidStatus as e:
                status = e.response.status_code
                reason = f"HTTP {status}"
                if status == 404:
                    raise StreamerError.create(ErrorCode.CONNECTION_FAILED,
                                               f"no worker endpoint at {self.url} (HTTP 404)",
                                               {"http_status": status, "url": self.url}, retryable=False) from None
                if status in (401, 403):
                    if not self._can_refresh or refreshed_untested:
                        raise StreamerError.create(ErrorCode.UNAUTHORIZED, f"worker handshake rejected: HTTP {status}",
                                                   {"http_status": status}) from None
                    refresh = True
            except asyncio.CancelledError:
                raise
            except Exception as e:  # OSError, handshake timeout, token callback failure
                reason = f"{type(e).__name__}: {e}"
            else:
                registered = False
                try:
                    registered = await self._serve(conn)
                except RegistrationError:
                    await conn.close(CloseCode.NORMAL, "registration refused")
                    raise
                finally:
                    self._conn = None
                    self._registered.clear()
                code, reason, server_error = conn.close_code, conn.close_reason, conn.server_error
                if registered:
                    attempt = 0
                    refreshed_untested = False
            if self._closed:
                return
            policy = reconnect_policy(code)
            if policy is Reconnect.NEVER or (
                    policy is Reconnect.REFRESH_TOKEN and (not self._can_refresh or refreshed_untested)):
                fatal = error_from_close(code, reason, server_error)
            elif policy is Reconnect.REFRESH_TOKEN:
                refresh = True
            if fatal is not None:
                raise fatal
            delay = backoff_delay(attempt, self._opts.reconnect_base_delay, max_delay=self._opts.reconnect_max_delay)
            if policy in (Reconnect.IMMEDIATE, Reconnect.REFRESH_TOKEN) and attempt == 0:
                delay = 0.0
            logger.info("streamer worker %s: disconnected (%s %s), reconnecting in %.2fs",
                        self.spec.name, code, reason, delay)
            attempt += 1
            await asyncio.sleep(delay)

    async def _serve(self, conn: Connection) -> bool:
        """Registers on ``conn`` and dispatches its frames until it closes.
        Returns whether registration succeeded."""
        self._conn = conn
        conn.send(json.dumps({"type": "register", "actions": [self.spec.to_wire()],
                              "concurrency": self.spec.concurrency}))
        heartbeat: asyncio.Task[None] | None = None
        registered = False
        try:
            async for msg in conn.messages():
                kind = msg.get("type")
                if kind == "registered":
                    registered = True
                    self._on_registered(msg)
                    if heartbeat is None:
                        heartbeat = asyncio.create_task(self._heartbeat(conn), name="streamer-worker-heartbeat")
                elif kind == "error" and not registered:
                    body = msg.get("error")
                    err = StreamerError.from_body(body if isinstance(body, Mapping) else {})
                    raise RegistrationError(err.code, err.message, err.details, None, False)
                elif kind == "job":
                    self._on_job(msg)
                elif kind == "cancel":
                    self._on_cancel(msg)
                elif kind in ("ack", "stale"):
                    self._on_settled(msg, stale=kind == "stale")
                elif kind == "error":
                    self._on_error(msg)
        finally:
            if heartbeat is not None:
                heartbeat.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await heartbeat
        return registered

    def _on_error(self, msg: Mapping[str, Any]) -> None:
        """A refused frame. The server names no job, so after ``RATE_LIMITED``
        every unacknowledged outcome is sent again once ``retry_after_ms`` has
        passed (a duplicate is answered ``stale`` and has no effect)."""
        body = msg.get("error")
        err = StreamerError.from_body(body if isinstance(body, Mapping) else {})
        if err.code == ErrorCode.RATE_LIMITED:
            if self._resend is None and self._unacked:
                self._resend = asyncio.get_running_loop().call_later(err.retry_after or 0.05, self._resend_unacked)
            return
        logger.warning("streamer worker %s: server refused a frame: %s %s", self.spec.name, err.code, err.message)

    def _resend_unacked(self) -> None:
        self._resend = None
        for text in list(self._unacked.values()):
            self._send_text(text)

    def _on_registered(self, msg: Mapping[str, Any]) -> None:
        ttl = msg.get("lease_ttl_ms")
        self.lease_ttl_ms = ttl if isinstance(ttl, int) else None
        hb = msg.get("heartbeat_ms")
        if isinstance(hb, int) and hb > 0:
            self._heartbeat_interval = hb / 1000.0
        self._registered.set()
        for text in list(self._unacked.values()):  # outcomes the last connection did not confirm
            self._send_text(text)

    async def _heartbeat(self, conn: Connection) -> None:
        while conn.is_open:
            await asyncio.sleep(self._heartbeat_interval)
            conn.send('{"type":"heartbeat"}')

    def _send(self, frame: Mapping[str, Any]) -> None:
        """Sends on the current connection, if registered; otherwise drops the
        frame (outcomes are kept in ``_unacked`` and re-sent on the next one)."""
        self._send_text(json.dumps(frame, separators=(",", ":")))

    def _send_text(self, text: str) -> None:
        conn = self._conn
        if conn is not None and conn.is_open and self._registered.is_set():
            conn.send(text)

    # --------------------------------------------------------------------- jobs
    def _on_job(self, msg: Mapping[str, Any]) -> None:
        if not isinstance(msg.get("job_id"), str):
            logger.warning("streamer worker %s: job frame without a job_id", self.spec.name)
            return
        job = Job(msg, self._send, progress_interval=self._opts.progress_interval)
        if job.job_id in self._running:
            return  # already running this attempt (a duplicate push)
        if self._draining or self._closed:
            self._settle(job, fail=JobError(ErrorCode.INTERNAL_ERROR, "worker shutting down",
                                            {"reason": "worker_shutdown"}, retryable=True))
            return
        self.jobs_started += 1
        task = asyncio.create_task(self._run_job(job), name=f"streamer-job-{job.job_id}")
        self._running[job.job_id] = (job, task)
        self._quiet.clear()

    def _on_cancel(self, msg: Mapping[str, Any]) -> None:
        entry = self._running.get(str(msg.get("job_id")))
        if entry is None:
            return
        job, task = entry
        if msg.get("fence") is not None and job.fence is not None and msg.get("fence") != job.fence:
            return
        job._cancel(str(msg.get("reason") or "cancelled"))
        task.cancel()

    def _on_settled(self, msg: Mapping[str, Any], *, stale: bool) -> None:
        job_id = str(msg.get("job_id"))
        self._unacked.pop(job_id, None)
        entry = self._running.get(job_id)
        if stale and entry is not None and (msg.get("fence") is None or msg.get("fence") == entry[0].fence):
            # The attempt lost its lease (another worker may run it now): stop the
            # handler; its outcome would be refused anyway.
            entry[0]._cancel("stale")
            entry[1].cancel()
        self._update_idle()

    async def _run_job(self, job: Job) -> None:
        """Runs the handler and sends its outcome (see :mod:`.job`)."""
        outcome: Any = None
        error: JobError | None = None
        try:
            result = self.spec.handler(job)
            outcome = await result if inspect.isawaitable(result) else result
            if outcome is not None and not isinstance(outcome, Mapping):
                error = JobError(ErrorCode.INTERNAL_ERROR,
                                 f"handler returned {type(outcome).__name__}, expected a dict or None",
                                 retryable=False)
        except asyncio.CancelledError:
            # A server cancel ends the job for the server (and returns its credit);
            # a stale answer or close() means the lease is gone: report nothing.
            self._forget(job)
            if job.cancel_reason is None and not self._closed:
                raise  # the lane itself is being torn down
            return
        except JobError as e:
            error = e
        except Exception as e:  # a bug or a failing dependency in the handler: retry
            logger.exception("streamer worker %s: handler failed on job %s", self.spec.name, job.job_id)
            error = JobError(ErrorCode.INTERNAL_ERROR, f"{type(e).__name__}: {e}",
                             {"exception": type(e).__name__}, retryable=True)
        if job.cancelled.is_set():  # the handler swallowed the cancel: the job is over anyway
            self._forget(job)
            return
        if error is None:
            self._settle(job, data=dict(outcome or {}))
        else:
            self._settle(job, fail=error)
        self._forget(job)

    def _settle(self, job: Job, *, data: dict[str, Any] | None = None, fail: JobError | None = None) -> None:
        job._finish()
        if fail is None:
            frame: dict[str, Any] = {"type": "complete", "job_id": job.job_id, "fence": job.fence, "data": data or {}}
        else:
            frame = {"type": "fail", "job_id": job.job_id, "fence": job.fence, "error": fail.to_wire()}
        try:
            text = json.dumps(frame, separators=(",", ":"))  # once: sent now, kept for a resend
        except (TypeError, ValueError) as e:
            frame = {"type": "fail", "job_id": job.job_id, "fence": job.fence,
                     "error": JobError(ErrorCode.INTERNAL_ERROR, f"result is not JSON: {e}",
                                       retryable=False).to_wire()}
            text = json.dumps(frame, separators=(",", ":"))
        self._unacked[job.job_id] = text
        self._quiet.clear()
        self._send_text(text)

    def _forget(self, job: Job) -> None:
        job._finish()
        entry = self._running.get(job.job_id)
        if entry is not None and entry[0] is job:
            del self._running[job.job_id]
        self._update_idle()

    def _update_idle(self) -> None:
        if not self._running and not self._unacked:
            self._quiet.set()
