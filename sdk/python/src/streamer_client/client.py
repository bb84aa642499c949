"""``StreamerClient``: requests over one WebSocket, with progress, resume and retries.

How a request travels
---------------------
1. :meth:`StreamerClient.request` serialises the message and refuses it if it is
   larger than ``max_message_bytes``. It then waits in a client-side FIFO until
   fewer than ``max_in_flight`` requests are outstanding and a connection is up.
2. It is sent (phase ``SENT``). The server answers ``response/success`` (sync:
   done), ``response/queued`` (async: phase ``QUEUED``, then ``progress`` and one
   ``result`` or ``error``), or ``error``. ``RATE_LIMITED`` is retried after
   ``details.retry_after_ms``.
3. If the connection drops, one background task reconnects with jittered
   exponential backoff. After a reconnect, ``SENT`` requests are re-sent with the
   same id (async ids are idempotent on the server) and ``QUEUED`` ones are
   resumed with ``subscribe``, so the caller's ``await`` completes as if nothing
   happened and progress keeps flowing.

Everything runs on the caller's event loop; there are no threads.
"""
from __future__ import annotations

import asyncio
import collections
import contextlib
import enum
import inspect
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypedDict

from websockets.exceptions import InvalidStatus, InvalidURI

from . import __version__ as _version
from .backoff import DEFAULT_MAX_DELAY, backoff_delay
from .connection import Connection
from .errors import CloseCode, ErrorCode, Reconnect, StreamerError, error_from_close, reconnect_policy
from .ids import new_request_id

logger = logging.getLogger("streamer_client")


class ProgressUpdate(TypedDict, total=False):
    """The body of a ``progress`` message, exactly as the server sent it."""

    request_id: str
    progress: float
    message: str
    metadata: dict[str, Any]
    timestamp: str


class ConnectionState(enum.StrEnum):
    """Connection states, reported through ``on_state_change``."""

    DISCONNECTED = "disconnected"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    CLOSED = "closed"  # after close(): final


@dataclass(frozen=True)
class StateEvent:
    """A connection state change.

    Attributes:
        state: the new state.
        code: close code for ``disconnected`` (1006 when none was received).
        reason: close reason, or the server's ``details.reason`` /
            a description of the connect failure.
        attempt: reconnect attempt number (0 for the first connect after a
            healthy connection).
        reconnect_in: for ``disconnected``: seconds until the next attempt, or
            ``None`` when the client will not reconnect by itself.
        error: for ``disconnected``: the error pending requests fail with if the
            client gives up, when it does.
    """

    state: ConnectionState
    code: int | None = None
    reason: str = ""
    attempt: int = 0
    reconnect_in: float | None = None
    error: StreamerError | None = None


ProgressCallback = Callable[[ProgressUpdate], Any]
"""Called with each progress body; may be sync or ``async``."""
StateCallback = Callable[[StateEvent], Any]
"""Called with each state change; may be sync or ``async``."""
TokenProvider = Callable[[], "str | Awaitable[str]"]
"""Returns a (fresh) JWT; may be sync or ``async``."""


class _Phase(enum.Enum):
    WAITING = "waiting"  # in the client-side queue, holds no slot
    BACKOFF = "backoff"  # rate-limited, holds a slot, re-sent by a timer
    SENT = "sent"  # sent (or to be sent on connect), no answer yet
    QUEUED = "queued"  # accepted as async by the server: resume with subscribe
    DONE = "done"


@dataclass(eq=False)
class _Pending:
    id: str
    text: str | None  # the request frame; None for subscribe()-only tracking
    future: asyncio.Future[Any]
    callbacks: list[ProgressCallback] = field(default_factory=list)
    phase: _Phase = _Phase.WAITING
    holds_slot: bool = False
    rate_limit_retries: int = 0
    timer: asyncio.TimerHandle | None = None
    last_progress: tuple[Any, Any, Any] | None = None
    last_percent: float = -1.0


class _ConnectionLost(Exception):
    """A control message's connection went away before it was answered."""


_CONTROL_RATE_LIMIT_RETRIES = 5
_CONNECT_GRACE_S = 0.25


class StreamerClient:
    """Asyncio client for a Streamer server.

    Example::

        async with StreamerClient(endpoint="ws://localhost:8080/production",
                                  token=jwt) as client:
            health = await client.request("health", {})
            report = await client.request(
                action="generate_report", payload={...},
                on_progress=lambda p: print(p["progress"], p["message"]))

    Args:
        endpoint: ``ws://`` or ``wss://`` URL including the stage, e.g.
            ``wss://api.example.com/production``.
        token: a JWT. Give either ``token`` or ``get_token``.
        get_token: a sync or async callable returning a JWT; called on the first
            connect and again whenever the server rejects the token (close 4401,
            e.g. ``token_expired``), before reconnecting.
        on_progress: called with every progress body of every request.
        on_state_change: called with a :class:`StateEvent` on every change.
        reconnect_attempts: consecutive failed (re)connect attempts before
            pending requests fail with ``CONNECTION_FAILED`` (seed: 5).
        reconnect_base_delay: seconds; attempt ``n`` waits up to
            ``base * 2**n`` (seed: 1 s), with jitter.
        reconnect_max_delay: cap on one delay, seconds.
        max_in_flight: requests outstanding at once (seed: 10 per connection);
            the rest wait client-side.
        max_message_bytes: requests whose JSON is larger are refused before
            sending with ``MESSAGE_TOO_LARGE`` (seed: 1 MB).
        request_timeout: default per-request timeout in seconds (``None``: none).
        rate_limit_retries: times one request is re-sent after ``RATE_LIMITED``.
        open_timeout: seconds allowed for one WebSocket handshake.
    """

    def __init__(
        self,
        endpoint: str,
        token: str | None = None,
        *,
        get_token: TokenProvider | None = None,
        on_progress: ProgressCallback | None = None,
        on_state_change: StateCallback | None = None,
        reconnect_attempts: int = 5,
        reconnect_base_delay: float = 1.0,
        reconnect_max_delay: float = DEFAULT_MAX_DELAY,
        max_in_flight: int = 10,
        max_message_bytes: int = 1_048_576,
        request_timeout: float | None = None,
        rate_limit_retries: int = 5,
        open_timeout: float = 10.0,
    ) -> None:
        if (token is None) == (get_token is None):
            raise ValueError("give exactly one of token= or get_token=")
        if max_in_flight < 1:
            raise ValueError("max_in_flight must be >= 1")
        if reconnect_attempts < 0 or reconnect_base_delay < 0:
            raise ValueError("reconnect_attempts and reconnect_base_delay must be >= 0")
        self.endpoint = endpoint
        self._token = token
        self._get_token = get_token
        self._on_progress = on_progress
        self._on_state_change = on_state_change
        self.reconnect_attempts = reconnect_attempts
        self.reconnect_base_delay = reconnect_base_delay
        self.reconnect_max_delay = reconnect_max_delay
        self.max_in_flight = max_in_flight
        self.max_message_bytes = max_message_bytes
        self.request_timeout = request_timeout
        self.rate_limit_retries = rate_limit_retries
        self.open_timeout = open_timeout

        self._state = ConnectionState.DISCONNECTED
        self._conn: Connection | None = None
        self._runner: asyncio.Task[None] | None = None
        self._closed = False
        self._pending: dict[str, _Pending] = {}
        self._waiting: collections.deque[_Pending] = collections.deque()
        self._slots_used = 0
        self._controls: dict[str, tuple[asyncio.Future[Any], Connection]] = {}
        self._connect_waiters: list[asyncio.Future[None]] = []
        self._deferred_cancels: set[str] = set()
        self._background: set[asyncio.Task[Any]] = set()
        self._healthy = False  # current connection delivered a request-level message
        self._attempt = 0

    # ------------------------------------------------------------------ public API
    @property
    def state(self) -> ConnectionState:
        """The current :class:`ConnectionState`."""
        return self._state

    @property
    def in_flight(self) -> int:
        """Requests sent and not finished (at most ``max_in_flight``)."""
        return self._slots_used

    @property
    def queued(self) -> int:
        """Requests waiting client-side for a free slot or a connection."""
        return len(self._waiting)

    async def __aenter__(self) -> StreamerClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def connect(self) -> None:
        """Connects now instead of on first use. Returns once the connection is up
        and was not rejected (the server rejects a token by closing right after
        the upgrade, so this waits for a first message or 0.25 s); raises
        :class:`StreamerError` if the client gives up (bad token, forbidden
        tenant, server unreachable after every attempt)."""
        self._check_open()
        if self._state is ConnectionState.CONNECTED and self._conn is not None and self._conn.is_open:
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._connect_waiters.append(waiter)
        self._ensure_runner()
        try:
            await waiter
        finally:
            with contextlib.suppress(ValueError):
                self._connect_waiters.remove(waiter)

    async def request(
        self,
        action: str,
        payload: Mapping[str, Any] | None = None,
        *,
        on_progress: ProgressCallback | None = None,
        timeout: float | None = None,
        metadata: Mapping[str, Any] | None = None,
        request_id: str | None = None,
    ) -> Any:
        """Sends one request and returns the sync response's ``data`` or the
        async result's ``data``. Connects on first use.

        Args:
            action: handler name (``health``, ``generate_report``, ...).
            payload: handler payload (``{}`` when omitted).
            on_progress: called with each progress body of this request (in
                addition to the client-wide ``on_progress``).
            timeout: seconds for the whole request, including waiting for a slot
                and reconnects (default: the client's ``request_timeout``). On
                expiry an async request is cancelled on the server and
                :class:`StreamerError` ``TIMEOUT`` (``details.source ==
                "client"``) is raised.
            metadata: request metadata (``trace_id``, ...); ``client_version``
                is added.
            request_id: your own id, e.g. to make a retry idempotent; a fresh
                unique id by default.

        Raises:
            StreamerError: the server's error (``VALIDATION_ERROR``, ...), or
                ``MESSAGE_TOO_LARGE``, ``TIMEOUT``, ``CONNECTION_FAILED``,
                ``CLIENT_CLOSED``.
            asyncio.CancelledError: when the awaiting task is cancelled; a
                request the server may have accepted gets a ``cancel``.
        """
        self._check_open()
        rid = request_id if request_id is not None else new_request_id()
        if rid in self._pending:
            raise ValueError(f"request id {rid!r} is already in flight on this client")
        meta: dict[str, Any] = {"client_version": f"streamer-client-python/{_version}"}
        if metadata:
            meta.update(metadata)
        message = {"id": rid, "action": action, "payload": dict(payload or {}), "metadata": meta}
        text = json.dumps(message, separators=(",", ":"), ensure_ascii=False)
        size = len(text.encode("utf-8"))
        if size > self.max_message_bytes:
            raise StreamerError.create(
                ErrorCode.MESSAGE_TOO_LARGE,
                f"request is {size} bytes; the limit is {self.max_message_bytes}",
                {"size_bytes": size, "limit_bytes": self.max_message_bytes},
                rid,
            )
        p = _Pending(rid, text, asyncio.get_running_loop().create_future())
        if on_progress is not None:
            p.callbacks.append(on_progress)
        self._pending[rid] = p
        self._waiting.append(p)
        self._ensure_runner()
        self._pump()
        return await self._await_pending(p, timeout if timeout is not None else self.request_timeout,
                                         cancel_on_abandon=True)

    async def subscribe(
        self,
        request_id: str,
        *,
        on_progress: ProgressCallback | None = None,
        timeout: float | None = None,
    ) -> Any:
        """Follows an async request started elsewhere (another process, an
        earlier client) and returns its result's ``data``, like
        :meth:`request` would have. Progress flows to ``on_progress``; the
        subscription survives reconnects. Cancelling the awaiting task or a
        timeout only stops following; it does not cancel the request.

        Raises:
            StreamerError: ``NOT_FOUND`` for an unknown or foreign id, or the
                request's own error.
        """
        self._check_open()
        existing = self._pending.get(request_id)
        if existing is not None:
            if on_progress is not None:
                existing.callbacks.append(on_progress)
            return await asyncio.shield(existing.future)
        p = _Pending(request_id, None, asyncio.get_running_loop().create_future(), phase=_Phase.QUEUED)
        if on_progress is not None:
            p.callbacks.append(on_progress)
        self._pending[request_id] = p
        self._ensure_runner()
        if self._conn is not None and self._state is ConnectionState.CONNECTED:
            self._spawn(self._resume(p, self._conn))
        return await self._await_pending(p, timeout, cancel_on_abandon=False)

    async def cancel(self, request_id: str) -> dict[str, Any]:
        """Asks the server to cancel an async request. Returns the answer's
        ``data``: ``{"request_id", "status"}`` with status ``cancelled``,
        ``cancelling`` or the final status if it had already finished. The
        request's own awaiter then fails with ``CANCELLED``.

        Raises:
            StreamerError: ``NOT_FOUND`` for an unknown or foreign id.
        """
        for _ in range(self.reconnect_attempts + 2):
            await self.connect()
            conn = self._conn
            if conn is None:
                continue
            try:
                data = await self._control(conn, "cancel", {"request_id": request_id})
            except _ConnectionLost:
                continue
            self._deferred_cancels.discard(request_id)
            return data if isinstance(data, dict) else {"request_id": request_id, "status": data}
        raise StreamerError.create(ErrorCode.CONNECTION_FAILED, "connection kept dropping while cancelling",
                                   request_id=request_id)

    async def close(self) -> None:
        """Closes the connection and stops reconnecting. Requests still waiting
        fail with ``CLIENT_CLOSED``; async work already accepted keeps
        running on the server and can be picked up later with
        :meth:`subscribe`. Idempotent."""
        if self._closed:
            return
        self._closed = True
        runner, self._runner = self._runner, None
        if runner is not None and runner is not asyncio.current_task():
            runner.cancel()
            with contextlib.suppress(BaseException):
                await runner
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.close()
        self._fail_all(StreamerError.create(ErrorCode.CLIENT_CLOSED, "client closed"))
        for task in list(self._background):
            task.cancel()
        self._set_state(StateEvent(ConnectionState.CLOSED))

    # ----------------------------------------------------------- request tracking
    async def _await_pending(self, p: _Pending, timeout: float | None, *, cancel_on_abandon: bool) -> Any:
        try:
            async with asyncio.timeout(timeout):
                return await asyncio.shield(p.future)
        except TimeoutError:
            if p.future.done():  # finished in the same tick as the deadline
                return p.future.result()
            self._abandon(p, send_cancel=cancel_on_abandon)
            raise StreamerError.create(
                ErrorCode.TIMEOUT, f"no answer within {timeout} s",
                {"source": "client", "timeout_s": timeout}, p.id, retryable=True,
            ) from None
        except asyncio.CancelledError:
            if not p.future.done():
                self._abandon(p, send_cancel=cancel_on_abandon)
            raise

    def _abandon(self, p: _Pending, *, send_cancel: bool) -> None:
        """The caller gave up on ``p``: forget it, free its slot, and cancel it
        on the server if the server may have it."""
        was = p.phase
        self._release(p)
        if not p.future.done():
            # Anyone else following this id (subscribe() on the same client) learns why.
            p.future.set_exception(StreamerError.create(ErrorCode.CANCELLED, "abandoned by the caller",
                                                        {"source": "client"}, p.id))
            p.future.exception()  # retrieved: no "never retrieved" warning
        if send_cancel and was in (_Phase.SENT, _Phase.QUEUED, _Phase.BACKOFF):
            conn = self._conn
            if conn is not None and self._state is ConnectionState.CONNECTED:
                self._spawn(self._best_effort_cancel(conn, p.id))
            else:
                self._deferred_cancels.add(p.id)
                self._ensure_runner()

    async def _best_effort_cancel(self, conn: Connection, rid: str) -> None:
        try:
            await self._control(conn, "cancel", {"request_id": rid})
        except _ConnectionLost:
            self._deferred_cancels.add(rid)
        except StreamerError as e:  # NOT_FOUND for a sync request that already ended
            logger.debug("streamer: cancel %s: %s", rid, e)

    def _release(self, p: _Pending) -> None:
        """Removes ``p`` from every table and frees its slot (idempotent)."""
        if p.timer is not None:
            p.timer.cancel()
            p.timer = None
        if p.phase is _Phase.WAITING:
            with contextlib.suppress(ValueError):
                self._waiting.remove(p)
        p.phase = _Phase.DONE
        if self._pending.get(p.id) is p:
            del self._pending[p.id]
        if p.holds_slot:
            p.holds_slot = False
            self._slots_used -= 1
            self._pump()

    def _finish(self, p: _Pending, *, result: Any = None, error: BaseException | None = None) -> None:
        self._release(p)
        if p.future.done():
            return
        if error is not None:
            p.future.set_exception(error)
        else:
            p.future.set_result(result)

    def _fail_all(self, error: StreamerError) -> None:
        for p in list(self._pending.values()):
            self._finish(p, error=_with_request_id(error, p.id))
        for w in list(self._connect_waiters):
            if not w.done():
                w.set_exception(error)
        self._connect_waiters.clear()
        self._deferred_cancels.clear()

    def _pump(self) -> None:
        """Sends waiting requests while slots are free and a connection is up."""
        conn = self._conn
        if conn is None or self._state is not ConnectionState.CONNECTED:
            return
        while self._waiting and self._slots_used < self.max_in_flight:
            p = self._waiting.popleft()
            p.holds_slot = True
            self._slots_used += 1
            self._send_request(conn, p)

    def _send_request(self, conn: Connection, p: _Pending) -> None:
        assert p.text is not None
        p.phase = _Phase.SENT
        conn.send(p.text)

    def _retry_after_rate_limit(self, p: _Pending, err: StreamerError) -> None:
        p.rate_limit_retries += 1
        p.phase = _Phase.BACKOFF
        delay = err.retry_after
        if delay is None:
            delay = backoff_delay(p.rate_limit_retries - 1, max(self.reconnect_base_delay, 0.05),
                                  max_delay=self.reconnect_max_delay)
        logger.debug("streamer: %s rate limited; retrying in %.3f s", p.id, delay)

        def fire() -> None:
            p.timer = None
            if p.phase is not _Phase.BACKOFF:
                return
            conn = self._conn
            if conn is not None and self._state is ConnectionState.CONNECTED:
                self._send_request(conn, p)
            else:
                p.phase = _Phase.SENT  # re-sent on the next connect

        p.timer = asyncio.get_running_loop().call_later(delay, fire)

    # ------------------------------------------------------------ incoming frames
    def _dispatch(self, conn: Connection, msg: dict[str, Any]) -> None:
        kind = msg.get("type")
        body = msg.get(kind) if isinstance(kind, str) else None
        if not isinstance(body, dict):
            logger.warning("streamer: ignoring malformed message of type %r", kind)
            return
        raw_id = body.get("request_id")
        if raw_id is None:
            if kind == "error":
                logger.info("streamer: connection error %s: %s", body.get("code"), body.get("message"))
            return
        rid = str(raw_id)
        self._mark_healthy()

        control = self._controls.get(rid)
        if control is not None:
            fut = control[0]
            if not fut.done():
                if kind == "error":
                    fut.set_exception(StreamerError.from_body(body))
                elif kind == "response":
                    fut.set_result(body.get("data"))
            return

        p = self._pending.get(rid)
        if p is None:
            return  # abandoned, or another client's subscription echo
        if kind == "response":
            status = body.get("status")
            if status == "queued":
                if p.phase is not _Phase.DONE:
                    p.phase = _Phase.QUEUED
            else:
                self._finish(p, result=body.get("data"))
        elif kind == "progress":
            self._deliver_progress(p, body)
        elif kind == "result":
            self._finish(p, result=body.get("data"))
        elif kind == "error":
            err = StreamerError.from_body(body)
            if (
                err.code == ErrorCode.RATE_LIMITED
                and p.text is not None
                and p.phase is _Phase.SENT
                and p.rate_limit_retries < self.rate_limit_retries
            ):
                self._retry_after_rate_limit(p, err)
            else:
                self._finish(p, error=err)

    def _deliver_progress(self, p: _Pending, body: Mapping[str, Any]) -> None:
        key = (body.get("progress"), body.get("message"), body.get("timestamp"))
        pct = body.get("progress")
        if key == p.last_progress:
            return  # the same update again (e.g. in a resubscribe snapshot)
        if isinstance(pct, (int, float)):
            if pct < p.last_percent:
                return  # stale: progress is monotonic
            p.last_percent = float(pct)
        p.last_progress = key
        update: ProgressUpdate = dict(body)  # type: ignore[assignment]
        for cb in [*p.callbacks, *([self._on_progress] if self._on_progress else [])]:
            self._invoke(cb, update)

    def _mark_healthy(self) -> None:
        if not self._healthy:
            self._healthy = True
            self._attempt = 0
            self._release_connect_waiters()

    def _release_connect_waiters(self) -> None:
        if self._conn is None:
            return
        for w in self._connect_waiters:
            if not w.done():
                w.set_result(None)
        self._connect_waiters.clear()

    # ------------------------------------------------------------ control frames
    async def _control(self, conn: Connection, action: str, payload: dict[str, Any],
                       *, rate_limit_retries: int | None = _CONTROL_RATE_LIMIT_RETRIES) -> Any:
        """Sends a sync control request (``subscribe``/``cancel``) on ``conn`` and
        returns its ``data``. Raises :class:`_ConnectionLost` if ``conn`` closes
        first; retries ``RATE_LIMITED`` up to ``rate_limit_retries`` times
        (``None``: for as long as the connection lives)."""
        retries = 0
        while True:
            if not conn.is_open or conn is not self._conn:
                raise _ConnectionLost()
            rid = new_request_id()
            fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            self._controls[rid] = (fut, conn)
            conn.send(json.dumps({"id": rid, "action": action, "payload": payload}, separators=(",", ":")))
            try:
                return await fut
            except StreamerError as e:
                if e.code != ErrorCode.RATE_LIMITED or (rate_limit_retries is not None
                                                         and retries >= rate_limit_retries):
                    raise
                retries += 1
                delay = e.retry_after
                await asyncio.sleep(delay if delay is not None else min(0.05 * 2**retries, 5.0))
            finally:
                self._controls.pop(rid, None)

    async def _resume(self, p: _Pending, conn: Connection) -> None:
        """Re-attaches an accepted async request to ``conn`` with ``subscribe``.
        The snapshot's progress is delivered if newer; a finished request's
        stored ``result``/``error`` follows the snapshot by itself."""
        try:
            # Never give a resume up for RATE_LIMITED: the request is still alive.
            snapshot = await self._control(conn, "subscribe", {"request_id": p.id}, rate_limit_retries=None)
        except _ConnectionLost:
            return  # resumed again after the next connect
        except StreamerError as e:
            if p.phase is not _Phase.DONE:
                self._finish(p, error=_with_request_id(e, p.id))
            return
        if isinstance(snapshot, dict) and p.phase is not _Phase.DONE:
            prog = snapshot.get("progress")
            if isinstance(prog, dict):
                self._deliver_progress(p, prog)

    # --------------------------------------------------------- connection driver
    def _check_open(self) -> None:
        if self._closed:
            raise StreamerError.create(ErrorCode.CLIENT_CLOSED, "client closed")

    def _ensure_runner(self) -> None:
        if self._closed or self._runner is not None:
            return
        self._runner = asyncio.get_running_loop().create_task(self._run(), name="streamer-connection")

    def _has_work(self) -> bool:
        return bool(self._pending or self._connect_waiters or self._deferred_cancels)

    async def _token_for_connect(self, refresh: bool) -> str | None:
        if self._get_token is not None and (refresh or self._token is None):
            value = self._get_token()
            if inspect.isawaitable(value):
                value = await value
            self._token = str(value)
        return self._token

    async def _run(self) -> None:
        """Connects, reads until the connection closes, decides whether and when
        to reconnect, and repeats; exits when there is nothing left to do, when
        the client gives up (failing every pending request), or on close()."""
        self._attempt = 0
        refresh_token = False
        refreshed_unhealthy = False  # a refreshed token has not yet proven itself
        try:
            while not self._closed:
                self._set_state(StateEvent(ConnectionState.CONNECTING, attempt=self._attempt))
                code: int
                reason: str
                server_error: dict[str, Any] | None = None
                fatal: StreamerError | None = None
                try:
                    token = await self._token_for_connect(refresh_token)
                    if refresh_token:
                        refreshed_unhealthy = True
                    refresh_token = False
                    conn = await Connection.open(self.endpoint, token, open_timeout=self.open_timeout,
                                                 user_agent=f"streamer-client-python/{_version}")
                except (InvalidURI, ValueError) as e:
                    code, reason = CloseCode.ABNORMAL, str(e)
                    fatal = StreamerError.create(ErrorCode.CONNECTION_FAILED, f"bad endpoint: {e}",
                                                 {"endpoint": self.endpoint}, retryable=False)
                except InvalidStatus as e:
                    status = e.response.status_code
                    code, reason = CloseCode.ABNORMAL, f"HTTP {status}"
                    if status in (401, 403) and (self._get_token is None or refreshed_unhealthy):
                        fatal = StreamerError.create(ErrorCode.UNAUTHORIZED, f"handshake rejected: HTTP {status}",
                                                     {"http_status": status})
                    elif status in (401, 403):
                        refresh_token = True
                except asyncio.CancelledError:
                    raise
                except Exception as e:  # OSError, handshake timeout, token callback failure, ...
                    code, reason = CloseCode.ABNORMAL, f"{type(e).__name__}: {e}"
                else:
                    code, reason, server_error = await self._serve(conn)
                    if self._healthy:
                        refreshed_unhealthy = False
                if self._closed:
                    return

                # Decide what the close means.
                policy = reconnect_policy(code)
                if fatal is None:
                    if policy is Reconnect.REFRESH_TOKEN:
                        if self._get_token is None or refreshed_unhealthy:
                            fatal = error_from_close(code, reason, server_error)
                        else:
                            refresh_token = True
                    elif policy is Reconnect.NEVER:
                        fatal = error_from_close(code, reason, server_error)
                    elif code == CloseCode.MESSAGE_TOO_BIG:
                        too_big = error_from_close(code, reason, server_error)
                        for p in [q for q in self._pending.values() if q.phase is _Phase.SENT]:
                            self._finish(p, error=_with_request_id(too_big, p.id))
                if fatal is None and not self._has_work():
                    self._emit_disconnected(code, reason, server_error, None, None)
                    return  # idle: the next request connects again
                if fatal is None and self._attempt >= self.reconnect_attempts:
                    fatal = error_from_close(code, reason, server_error)
                    if fatal.code == ErrorCode.CONNECTION_FAILED:
                        fatal = StreamerError.create(
                            ErrorCode.CONNECTION_FAILED,
                            f"gave up after {self._attempt} reconnect attempts ({reason or code})",
                            fatal.details, close_code=fatal.close_code)
                if fatal is not None:
                    self._emit_disconnected(code, reason, server_error, None, fatal)
                    self._fail_all(fatal)
                    return
                if policy in (Reconnect.IMMEDIATE, Reconnect.REFRESH_TOKEN) and self._attempt == 0:
                    delay = 0.0  # lifetime end, slow reader, expired token: come back at once
                else:
                    delay = backoff_delay(self._attempt, self.reconnect_base_delay,
                                          max_delay=self.reconnect_max_delay)
                    if code == CloseCode.RATE_LIMITED and server_error:
                        hint = StreamerError.from_body(server_error).retry_after
                        if hint is not None:
                            delay = max(delay, hint)
                self._emit_disconnected(code, reason, server_error, delay, None)
                self._attempt += 1
                await asyncio.sleep(delay)
        finally:
            if self._runner is asyncio.current_task():
                self._runner = None

    async def _serve(self, conn: Connection) -> tuple[int, str, dict[str, Any] | None]:
        """Runs one connection: re-sends, resumes, pumps, and dispatches frames
        until it closes. Returns (close code, reason, connection-level error)."""
        self._conn = conn
        self._healthy = False
        self._set_state(StateEvent(ConnectionState.CONNECTED, attempt=self._attempt))
        # A rejected token is answered by an upgrade followed at once by a close,
        # so connect() waiters are released only once the connection has proven
        # itself: a request-level message, or a short grace period without a close.
        grace = asyncio.get_running_loop().call_later(_CONNECT_GRACE_S, self._release_connect_waiters)
        try:
            for p in list(self._pending.values()):
                if p.phase is _Phase.SENT and p.text is not None:
                    self._send_request(conn, p)  # same id: idempotent for async
                elif p.phase is _Phase.QUEUED:
                    self._spawn(self._resume(p, conn))
            for rid in list(self._deferred_cancels):
                self._deferred_cancels.discard(rid)
                self._spawn(self._best_effort_cancel(conn, rid))
            self._pump()
            async for msg in conn.messages():
                self._dispatch(conn, msg)
        finally:
            grace.cancel()
            self._conn = None
            for rid, (fut, c) in list(self._controls.items()):
                if c is conn and not fut.done():
                    fut.set_exception(_ConnectionLost())
            if self._closed:
                await conn.close()
        return conn.close_code, conn.close_reason, conn.server_error

    # ------------------------------------------------------------------- helpers
    def _emit_disconnected(self, code: int, reason: str, server_error: Mapping[str, Any] | None,
                           delay: float | None, error: StreamerError | None) -> None:
        if not reason and server_error:
            details = server_error.get("details")
            if isinstance(details, Mapping) and details.get("reason"):
                reason = str(details["reason"])
            else:
                reason = str(server_error.get("message") or "")
        self._set_state(StateEvent(ConnectionState.DISCONNECTED, code, reason, self._attempt, delay, error))

    def _set_state(self, event: StateEvent) -> None:
        self._state = event.state
        logger.debug("streamer: %s", event)
        if self._on_state_change is not None:
            self._invoke(self._on_state_change, event)

    def _invoke(self, cb: Callable[[Any], Any], arg: Any) -> None:
        try:
            out = cb(arg)
            if inspect.isawaitable(out):
                self._spawn(_await_logged(out))
        except Exception:
            logger.exception("streamer: callback %r failed", cb)

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)


async def _await_logged(aw: Awaitable[Any]) -> None:
    try:
        await aw
    except Exception:
        logger.exception("streamer: async callback failed")


def _with_request_id(error: StreamerError, request_id: str) -> StreamerError:
    """A copy of a connection-level error addressed to one request (each awaiter
    gets its own exception object)."""
    return StreamerError.create(error.code, error.message, error.details, request_id, error.retryable,
                                close_code=error.close_code)
