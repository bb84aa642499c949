"""``StreamerWorker``: serve Streamer actions from Python.

::

    worker = StreamerWorker("ws://localhost:8080/production", token=jwt)

    @worker.handler("resize_images", schema={"type": "object", "required": ["urls"]})
    async def resize(job):
        await job.report_progress(50, "half way")
        return {"resized": len(job.payload["urls"])}

    asyncio.run(worker.run())

Each action gets its own connection (a :class:`~.lane.Lane`), so its
``concurrency`` is enforced by the server's credits. ``run()`` returns after a
graceful shutdown (SIGTERM/SIGINT or :meth:`StreamerWorker.shutdown`): no new jobs
are taken, jobs in flight get ``shutdown_grace`` seconds to finish and report,
and the rest are abandoned (their leases lapse and the server retries them on
another worker).
"""
from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import logging
import signal
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from ..backoff import DEFAULT_MAX_DELAY
from .lane import Lane, LaneOptions
from .spec import ActionSpec, Handler

logger = logging.getLogger("streamer_client.worker")

H = TypeVar("H", bound=Handler)
WorkerTokenProvider = Callable[[], "str | Awaitable[str]"]


def worker_url(url: str) -> str:
    """The worker endpoint for ``url``: a stage URL (``ws://host/production``)
    gets ``/workers`` appended; a URL already ending in ``/workers`` is kept."""
    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    if not path.endswith("/workers"):
        path += "/workers"
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, parts.fragment))


class StreamerWorker:
    """Serves actions for a Streamer server; see the module docstring.

    Args:
        url: the stage URL (``ws://host:8080/production``) or its ``/workers``
            endpoint. May be given later with :meth:`configure` (the CLI does).
        token: a JWT with the ``worker`` permission and the served actions in its
            ``actions`` claim. Give ``token`` or ``get_token``.
        get_token: a sync or async callable returning such a JWT; called on the
            first connect and again when the server rejects the token (4401).
        concurrency: default concurrency of handlers that do not set their own.
        shutdown_grace: seconds jobs in flight get to finish on shutdown.
        reconnect_base_delay / reconnect_max_delay: reconnect backoff (seconds);
            a worker reconnects forever unless refused for good.
        progress_interval: minimum seconds between two progress frames of one job.
    """

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        get_token: WorkerTokenProvider | None = None,
        concurrency: int = 1,
        shutdown_grace: float = 30.0,
        reconnect_base_delay: float = 0.5,
        reconnect_max_delay: float = DEFAULT_MAX_DELAY,
        open_timeout: float = 10.0,
        progress_interval: float = 0.05,
    ) -> None:
        if token is not None and get_token is not None:
            raise ValueError("give at most one of token= or get_token=")
        if concurrency < 1:
            raise ValueError("concurrency must be >= 1")
        self.url = url
        self._token = token
        self._get_token = get_token
        self.concurrency = concurrency
        self.shutdown_grace = shutdown_grace
        self._options = LaneOptions(reconnect_base_delay=reconnect_base_delay,
                                    reconnect_max_delay=reconnect_max_delay,
                                    open_timeout=open_timeout, progress_interval=progress_interval)
        self._specs: dict[str, ActionSpec] = {}
        self._lanes: list[Lane] = []
        self._stop: asyncio.Event | None = None
        self._abandon = False

    def configure(self, url: str | None = None, token: str | None = None,
                  get_token: WorkerTokenProvider | None = None) -> None:
        """Sets the URL and/or credentials (before :meth:`run`)."""
        if url is not None:
            self.url = url
        if token is not None or get_token is not None:
            if token is not None and get_token is not None:
                raise ValueError("give at most one of token= or get_token=")
            self._token, self._get_token = token, get_token

    # ----------------------------------------------------------------- handlers
    def handler(
        self,
        name: str,
        *,
        schema: Mapping[str, Any] | None = None,
        estimated_duration: int = 0,
        permission: str = "write",
        time_limit: int = 30_000,
        max_attempts: int = 3,
        concurrency: int | None = None,
    ) -> Callable[[H], H]:
        """Registers ``async def f(job)`` as the handler of action ``name``.

        ``schema`` is the JSON Schema the server validates payloads against before
        queueing (default: any object). Durations are milliseconds. The spec is
        checked here; the server checks it again at registration.
        """

        def register(fn: H) -> H:
            if name in self._specs:
                raise ValueError(f"action {name!r} already has a handler")
            if not inspect.iscoroutinefunction(fn) and not callable(fn):
                raise TypeError("handler must be an async function")
            self._specs[name] = ActionSpec(
                name=name, handler=fn, schema=schema if schema is not None else {"type": "object"},
                estimated_duration=estimated_duration, permission=permission, time_limit=time_limit,
                max_attempts=max_attempts, concurrency=concurrency if concurrency is not None else self.concurrency)
            return fn

        return register

    @property
    def actions(self) -> list[str]:
        """Names of the actions with a handler."""
        return list(self._specs)

    @property
    def in_flight(self) -> int:
        """Handlers running now, over all actions."""
        return sum(lane.in_flight for lane in self._lanes)

    # ------------------------------------------------------------------ running
    async def _token_for(self, refresh: bool) -> str:
        if self._get_token is not None and (refresh or self._token is None):
            value = self._get_token()
            if inspect.isawaitable(value):
                value = await value
            self._token = str(value)
        if self._token is None:
            raise ValueError("no token: give token= or get_token=")
        return self._token

    async def run(self, *, handle_signals: bool = True) -> None:
        """Serves until :meth:`shutdown` (or SIGTERM/SIGINT when
        ``handle_signals``), then shuts down gracefully and returns. Raises
        :class:`~streamer_client.StreamerError` if the server refuses the worker
        for good (see :class:`~.lane.RegistrationError`)."""
        if not self._specs:
            raise ValueError("no handlers: decorate a function with @worker.handler(...)")
        if not self.url:
            raise ValueError("no url: give url= or call configure()")
        if self._token is None and self._get_token is None:
            raise ValueError("no token: give token= or get_token=")
        if self._stop is not None:
            raise RuntimeError("the worker is already running")
        self._stop = asyncio.Event()
        self._abandon = False
        url = worker_url(self.url)
        self._lanes = [Lane(spec, url, self._token_for, self._get_token is not None, self._options)
                       for spec in self._specs.values()]
        lane_tasks = [asyncio.create_task(lane.run(), name=f"streamer-lane-{lane.spec.name}") for lane in self._lanes]
        stop_task = asyncio.create_task(self._stop.wait())
        removers = self._install_signal_handlers() if handle_signals else []
        try:
            await asyncio.wait([*lane_tasks, stop_task], return_when=asyncio.FIRST_COMPLETED)
            for task in lane_tasks:
                error = task.exception() if task.done() else None
                if error is not None:
                    raise error
            await self._drain(lane_tasks)
        finally:
            stop_task.cancel()
            for lane in self._lanes:
                await lane.close()
            for task in lane_tasks:
                task.cancel()
            await asyncio.gather(*lane_tasks, stop_task, return_exceptions=True)
            for remove in removers:
                remove()
            self._stop = None

    async def _drain(self, lane_tasks: list[asyncio.Task[None]]) -> None:
        """Takes no new jobs and waits up to ``shutdown_grace`` for jobs in flight."""
        for lane in self._lanes:
            lane.drain()
        if self._abandon:
            return
        logger.info("streamer worker: shutting down, %d job(s) in flight", self.in_flight)
        idle = asyncio.gather(*(lane.wait_idle() for lane in self._lanes))
        try:
            await asyncio.wait_for(idle, self.shutdown_grace)
        except TimeoutError:
            logger.warning("streamer worker: %d job(s) still running after %.1fs; abandoning them",
                           self.in_flight, self.shutdown_grace)

    def shutdown(self, *, abandon: bool = False) -> None:
        """Starts a graceful shutdown (``run()`` returns when it is done). With
        ``abandon`` (or on a second call) jobs in flight are not waited for."""
        if self._stop is None:
            return
        if self._stop.is_set() or abandon:
            self._abandon = True
            for lane in self._lanes:
                lane.drain()
                asyncio.get_running_loop().create_task(lane.close())
        self._stop.set()

    def _install_signal_handlers(self) -> list[Callable[[], None]]:
        """SIGTERM/SIGINT start a graceful shutdown; a second one abandons jobs."""
        loop = asyncio.get_running_loop()
        removers: list[Callable[[], None]] = []
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, self.shutdown)
                removers.append(functools.partial(self._remove_signal_handler, loop, sig))
        return removers

    @staticmethod
    def _remove_signal_handler(loop: asyncio.AbstractEventLoop, sig: signal.Signals) -> None:
        loop.remove_signal_handler(sig)
