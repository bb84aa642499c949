"""The one exception type of the SDK, and how server errors and close codes map to it.

Every failure a caller can see is a :class:`StreamerError` (or one of its
subclasses, one per code, for ``except`` clauses that read well)::

    try:
        await client.request("generate_report", payload)
    except ValidationError as e:
        show(e.details.get("field"), e.message)
    except StreamerError as e:
        if e.retryable: ...
"""
from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    """Error codes. The first eight come from the server (seed table plus
    ``CANCELLED``); the last three are raised by the client itself. Both SDKs use
    the same set (docs/asyncapi.yaml, ``x-client.codes``)."""

    VALIDATION_ERROR = "VALIDATION_ERROR"
    NOT_FOUND = "NOT_FOUND"
    UNAUTHORIZED = "UNAUTHORIZED"
    INTERNAL_ERROR = "INTERNAL_ERROR"
    TIMEOUT = "TIMEOUT"
    RATE_LIMITED = "RATE_LIMITED"
    INVALID_ACTION = "INVALID_ACTION"
    CANCELLED = "CANCELLED"
    # Client-side codes.
    MESSAGE_TOO_LARGE = "MESSAGE_TOO_LARGE"
    CONNECTION_FAILED = "CONNECTION_FAILED"
    CLIENT_CLOSED = "CLIENT_CLOSED"


SERVER_ERROR_CODES: tuple[ErrorCode, ...] = tuple(ErrorCode)[:8]
CLIENT_ERROR_CODES: tuple[ErrorCode, ...] = tuple(ErrorCode)[8:]


class CloseCode:
    """WebSocket close codes used by Streamer (docs/protocol.md)."""

    NORMAL = 1000
    GOING_AWAY = 1001  # connection lifetime reached: reconnect silently
    PROTOCOL_ERROR = 1002  # the client broke RFC 6455 framing: back off
    ABNORMAL = 1006  # no close frame (crash, network loss)
    POLICY_VIOLATION = 1008  # a fragmented message did not complete in time: back off
    MESSAGE_TOO_BIG = 1009
    SERVICE_RESTART = 1012  # SIGTERM drain: reconnect
    TRY_AGAIN_LATER = 1013  # slow reader overflowed: reconnect and resubscribe
    UNAUTHORIZED = 4401  # bad or expired token: refresh it and reconnect
    FORBIDDEN = 4403  # tenant not allowed: fatal
    RATE_LIMITED = 4429  # too many connections from this IP: back off


class Reconnect(StrEnum):
    """What the client does after the server closes with a given code."""

    IMMEDIATE = "immediate"  # reconnect at once (the first attempt after a working connection)
    BACKOFF = "backoff"  # reconnect after backoff_delay()
    REFRESH_TOKEN = "refresh_token"  # get a fresh token and reconnect at once; fail without get_token
    NEVER = "never"  # fail pending requests


_RECONNECT_BY_CLOSE: dict[int, Reconnect] = {
    CloseCode.GOING_AWAY: Reconnect.IMMEDIATE,
    CloseCode.MESSAGE_TOO_BIG: Reconnect.BACKOFF,
    CloseCode.SERVICE_RESTART: Reconnect.BACKOFF,
    CloseCode.TRY_AGAIN_LATER: Reconnect.IMMEDIATE,
    CloseCode.UNAUTHORIZED: Reconnect.REFRESH_TOKEN,
    CloseCode.FORBIDDEN: Reconnect.NEVER,
    CloseCode.RATE_LIMITED: Reconnect.BACKOFF,
}


def reconnect_policy(code: int | None) -> Reconnect:
    """How the client reconnects after close ``code`` (docs/asyncapi.yaml,
    ``x-close-codes``); any other code (1006, 1011, ...) backs off."""
    return _RECONNECT_BY_CLOSE.get(code or 0, Reconnect.BACKOFF)


# Seed "Retry" column; CANCELLED and the client codes are final unless noted.
_DEFAULT_RETRYABLE: dict[str, bool] = {
    ErrorCode.VALIDATION_ERROR: False,
    ErrorCode.NOT_FOUND: False,
    ErrorCode.UNAUTHORIZED: False,
    ErrorCode.INTERNAL_ERROR: True,
    ErrorCode.TIMEOUT: True,
    ErrorCode.RATE_LIMITED: True,
    ErrorCode.INVALID_ACTION: False,
    ErrorCode.CANCELLED: False,
    ErrorCode.MESSAGE_TOO_LARGE: False,
    ErrorCode.CONNECTION_FAILED: True,
    ErrorCode.CLIENT_CLOSED: False,
}


class StreamerError(Exception):
    """A request (or the connection) failed.

    Attributes:
        code: one of :class:`ErrorCode` (a ``str``; unknown server codes are kept
            as they came).
        message: human-readable text from the server or the client.
        details: the server's ``details`` object (``field``, ``expected``,
            ``received``, ``retry_after_ms``, ``reason``, ...), or client details
            such as ``close_code``; never ``None``.
        request_id: the request this error belongs to, or ``None`` for a
            connection-level error.
        retryable: whether trying again later may succeed: ``details.retryable``
            when the server sent it, else the seed's table.
        close_code: the WebSocket close code when the error came from a close.
    """

    code: str
    message: str
    details: dict[str, Any]
    request_id: str | None
    retryable: bool
    close_code: int | None

    def __init__(
        self,
        code: str,
        message: str = "",
        details: Mapping[str, Any] | None = None,
        request_id: str | None = None,
        retryable: bool | None = None,
        *,
        close_code: int | None = None,
    ) -> None:
        self.code = code
        self.message = message or str(code)
        self.details = dict(details or {})
        self.request_id = request_id
        if retryable is None:
            server_says = self.details.get("retryable")
            retryable = server_says if isinstance(server_says, bool) else _DEFAULT_RETRYABLE.get(code, False)
        self.retryable = retryable
        self.close_code = close_code
        super().__init__(f"{code}: {self.message}")

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(code={self.code!r}, message={self.message!r}, "
            f"details={self.details!r}, request_id={self.request_id!r}, retryable={self.retryable!r})"
        )

    @classmethod
    def create(
        cls,
        code: str,
        message: str = "",
        details: Mapping[str, Any] | None = None,
        request_id: str | None = None,
        retryable: bool | None = None,
        *,
        close_code: int | None = None,
    ) -> StreamerError:
        """Builds the subclass that matches ``code`` (plain StreamerError for
        unknown codes)."""
        klass = _BY_CODE.get(code, StreamerError)
        return klass(code, message, details, request_id, retryable, close_code=close_code)

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> StreamerError:
        """Builds an error from the body of a server ``error`` message."""
        raw_details = body.get("details")
        details = raw_details if isinstance(raw_details, Mapping) else {}
        rid = body.get("request_id")
        return cls.create(
            str(body.get("code") or ErrorCode.INTERNAL_ERROR),
            str(body.get("message") or ""),
            details,
            None if rid is None else str(rid),
        )

    @property
    def retry_after(self) -> float | None:
        """``details.retry_after_ms`` in seconds, if the server sent it."""
        ms = self.details.get("retry_after_ms")
        if isinstance(ms, (int, float)) and not isinstance(ms, bool) and ms >= 0:
            return float(ms) / 1000.0
        return None


class ValidationError(StreamerError):
    """``VALIDATION_ERROR``: the payload was rejected (see ``details.field``)."""


class NotFoundError(StreamerError):
    """``NOT_FOUND``: unknown, foreign or missing resource or request id."""


class UnauthorizedError(StreamerError):
    """``UNAUTHORIZED``: bad token, forbidden tenant or missing permission."""


class InternalError(StreamerError):
    """``INTERNAL_ERROR``: the server failed (retryable)."""


class RequestTimeoutError(StreamerError):
    """``TIMEOUT``: the handler's time limit, or the client's ``timeout``
    (``details.source == "client"``), was exceeded."""


class RateLimitedError(StreamerError):
    """``RATE_LIMITED``: a limit was hit; see ``details.retry_after_ms``."""


class InvalidActionError(StreamerError):
    """``INVALID_ACTION``: no handler of that name."""


class RequestCancelledError(StreamerError):
    """``CANCELLED``: the request was cancelled (by ``cancel``)."""


class MessageTooLargeError(StreamerError):
    """``MESSAGE_TOO_LARGE``: refused before sending, or closed with 1009."""


class ConnectionFailedError(StreamerError):
    """``CONNECTION_FAILED``: the server stayed unreachable after every
    reconnect attempt."""


class ClientClosedError(StreamerError):
    """``CLIENT_CLOSED``: the client was closed while the request waited."""


_BY_CODE: dict[str, type[StreamerError]] = {
    ErrorCode.VALIDATION_ERROR: ValidationError,
    ErrorCode.NOT_FOUND: NotFoundError,
    ErrorCode.UNAUTHORIZED: UnauthorizedError,
    ErrorCode.INTERNAL_ERROR: InternalError,
    ErrorCode.TIMEOUT: RequestTimeoutError,
    ErrorCode.RATE_LIMITED: RateLimitedError,
    ErrorCode.INVALID_ACTION: InvalidActionError,
    ErrorCode.CANCELLED: RequestCancelledError,
    ErrorCode.MESSAGE_TOO_LARGE: MessageTooLargeError,
    ErrorCode.CONNECTION_FAILED: ConnectionFailedError,
    ErrorCode.CLIENT_CLOSED: ClientClosedError,
}


def error_from_close(
    code: int | None,
    reason: str = "",
    server_error: Mapping[str, Any] | None = None,
) -> StreamerError:
    """Maps a WebSocket close (and the ``error`` the server sent just before it,
    with ``request_id: null``, if any) to the error a caller would see if the
    client gave up on this connection.

    ==========  ==================  =========  ==========================
    close code  error code          retryable  client behaviour
    ==========  ==================  =========  ==========================
    4401        UNAUTHORIZED        no         refresh token, reconnect
    4403        UNAUTHORIZED        no         fatal
    4429        RATE_LIMITED        yes        reconnect with backoff
    1009        MESSAGE_TOO_LARGE   no         fail unanswered requests
    1001/1012/  CONNECTION_FAILED   yes        reconnect (1001, 1013 at once)
    1013/other
    ==========  ==================  =========  ==========================
    """
    details: dict[str, Any] = {}
    message = ""
    if server_error:
        raw = server_error.get("details")
        if isinstance(raw, Mapping):
            details.update(raw)
        message = str(server_error.get("message") or "")
    details["close_code"] = code
    if reason:
        details.setdefault("close_reason", reason)
    if code == CloseCode.UNAUTHORIZED:
        details.setdefault("reason", reason or "unauthorized")
        return StreamerError.create(ErrorCode.UNAUTHORIZED, message or "token rejected or expired", details,
                                    retryable=False, close_code=code)
    if code == CloseCode.FORBIDDEN:
        details.setdefault("reason", reason or "forbidden_tenant")
        return StreamerError.create(ErrorCode.UNAUTHORIZED, message or "tenant not allowed", details,
                                    retryable=False, close_code=code)
    if code == CloseCode.RATE_LIMITED:
        details.setdefault("reason", reason or "connection_rate")
        return StreamerError.create(ErrorCode.RATE_LIMITED, message or "too many connections", details,
                                    retryable=True, close_code=code)
    if code == CloseCode.MESSAGE_TOO_BIG:
        return StreamerError.create(ErrorCode.MESSAGE_TOO_LARGE, message or "message too large for the server",
                                    details, retryable=False, close_code=code)
    text = {
        CloseCode.GOING_AWAY: "connection lifetime reached",
        CloseCode.SERVICE_RESTART: "server restarting",
        CloseCode.TRY_AGAIN_LATER: "client too slow, resubscribe",
    }.get(code or 0, "connection lost")
    return StreamerError.create(ErrorCode.CONNECTION_FAILED, message or f"{text} (close code {code})", details,
                                retryable=True, close_code=code)
