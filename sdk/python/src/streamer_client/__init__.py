"""Asyncio client for Streamer, a WebSocket server for long-running requests.

::

    from streamer_client import StreamerClient

    async with StreamerClient(endpoint="ws://localhost:8080/production", token=jwt) as client:
        print(await client.request("health", {}))
"""
from __future__ import annotations

__version__ = "0.1.0"

from .backoff import backoff_delay
from .client import (
    ConnectionState,
    ProgressCallback,
    ProgressUpdate,
    StateCallback,
    StateEvent,
    StreamerClient,
    TokenProvider,
)
from .errors import (
    ClientClosedError,
    CloseCode,
    ConnectionFailedError,
    ErrorCode,
    InternalError,
    InvalidActionError,
    MessageTooLargeError,
    NotFoundError,
    RateLimitedError,
    RequestCancelledError,
    RequestTimeoutError,
    StreamerError,
    UnauthorizedError,
    ValidationError,
    Reconnect,
    error_from_close,
    reconnect_policy,
)
from .ids import new_request_id
from .worker import Job, JobError, RegistrationError, StreamerWorker

__all__ = [
    "__version__",
    "StreamerClient",
    "StreamerWorker",
    "Job",
    "JobError",
    "RegistrationError",
    "StreamerError",
    "ErrorCode",
    "CloseCode",
    "ConnectionState",
    "StateEvent",
    "ProgressUpdate",
    "ProgressCallback",
    "StateCallback",
    "TokenProvider",
    "ValidationError",
    "NotFoundError",
    "UnauthorizedError",
    "InternalError",
    "RequestTimeoutError",
    "RateLimitedError",
    "InvalidActionError",
    "RequestCancelledError",
    "MessageTooLargeError",
    "ConnectionFailedError",
    "ClientClosedError",
    "Reconnect",
    "error_from_close",
    "reconnect_policy",
    "backoff_delay",
    "new_request_id",
]
