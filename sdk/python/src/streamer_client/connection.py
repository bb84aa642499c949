"""One WebSocket connection to a Streamer gateway: JSON text frames in and out.

This layer knows nothing of requests; :mod:`streamer_client.client` owns those.
It sends frames in order through one writer task, parses incoming frames, and
remembers how the connection ended (close code, reason, and the connection-level
``error`` the server sends just before a rejecting close).
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from .errors import CloseCode

logger = logging.getLogger("streamer_client")

# Results may be larger than requests (e.g. process_data samples); we only bound
# them to keep a broken server from exhausting memory.
MAX_INCOMING_BYTES = 64 * 1024 * 1024


class Connection:
    """An open connection. Create with :meth:`open`; read with :meth:`messages`;
    queue frames with :meth:`send`; end with :meth:`close`."""

    def __init__(self, ws: ClientConnection) -> None:
        self._ws = ws
        self._outbox: asyncio.Queue[str] = asyncio.Queue()
        self._writer = asyncio.create_task(self._write_loop(), name="streamer-writer")
        self.server_error: dict[str, Any] | None = None
        """The last ``error`` with ``request_id: null`` (sent before a rejecting close)."""

    @classmethod
    async def open(
        cls,
        endpoint: str,
        token: str | None,
        *,
        open_timeout: float = 10.0,
        user_agent: str | None = None,
    ) -> Connection:
        """Connects to ``endpoint``, sending the token as ``Authorization: Bearer``.

        Raises whatever :func:`websockets.asyncio.client.connect` raises
        (``OSError``, ``InvalidStatus``, ``InvalidURI``, ``TimeoutError``, ...).
        """
        headers = {"Authorization": f"Bearer {token}"} if token else None
        ws = await connect(
            endpoint,
            additional_headers=headers,
            user_agent_header=user_agent,
            open_timeout=open_timeout,
            max_size=MAX_INCOMING_BYTES,
            close_timeout=2,
        )
        return cls(ws)

    @property
    def close_code(self) -> int:
        """The close code received (1006 when the connection died without one)."""
        code = self._ws.close_code
        return CloseCode.ABNORMAL if code is None else int(code)

    @property
    def close_reason(self) -> str:
        """The close reason received, or ``""``."""
        return self._ws.close_reason or ""

    @property
    def is_open(self) -> bool:
        """Whether frames queued now may still be delivered."""
        return self._ws.close_code is None and not self._writer.done()

    def send(self, text: str) -> None:
        """Queues one text frame; frames go out in the order queued. Frames still
        queued when the connection closes are dropped (the client re-sends what
        matters after reconnecting)."""
        self._outbox.put_nowait(text)

    async def messages(self) -> AsyncIterator[dict[str, Any]]:
        """Yields every JSON object received until the connection closes. Frames
        that are not JSON objects are logged and skipped."""
        try:
            async for raw in self._ws:
                try:
                    msg = json.loads(raw)
                except ValueError:
                    logger.warning("streamer: ignoring a non-JSON frame")
                    continue
                if not isinstance(msg, dict):
                    logger.warning("streamer: ignoring a frame that is not an object")
                    continue
                if msg.get("type") == "error":
                    body = msg.get("error")
                    if isinstance(body, dict) and body.get("request_id") is None:
                        self.server_error = body
                yield msg
        except ConnectionClosed:
            pass
        finally:
            self._writer.cancel()

    async def close(self, code: int = CloseCode.NORMAL, reason: str = "") -> None:
        """Closes the connection (idempotent)."""
        self._writer.cancel()
        with contextlib.suppress(Exception):
            await self._ws.close(code, reason)

    async def _write_loop(self) -> None:
        try:
            while True:
                text = await self._outbox.get()
                await self._ws.send(text)
        except ConnectionClosed:
            pass
        except asyncio.CancelledError:
            raise
        except Exception:  # pragma: no cover - defensive: a broken socket
            logger.exception("streamer: writer failed")
            with contextlib.suppress(Exception):
                await self._ws.close(1011, "client writer failed")
