"""The spec a worker registers for one action (the ``register`` frame's entry)."""
from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .job import Job

Handler = Callable[[Job], Awaitable[Any]]
"""``async def handler(job) -> dict | None``."""

PERMISSIONS = ("read", "write", "admin")


@dataclass(frozen=True)
class ActionSpec:
    """One action served by a worker.

    Durations are milliseconds, as on the wire; the defaults are the server's. ``concurrency`` is how many jobs of
    this action the worker runs at once; the server never pushes more (each action
    has its own connection, and its credits are its concurrency).
    """

    name: str
    handler: Handler
    schema: Mapping[str, Any] = field(default_factory=lambda: {"type": "object"})
    estimated_duration: int = 0
    permission: str = "write"
    time_limit: int = 30_000
    max_attempts: int = 3
    concurrency: int = 1

    def __post_init__(self) -> None:
        if not self.name or not isinstance(self.name, str):
            raise ValueError("action name must be a non-empty string")
        if self.permission not in PERMISSIONS:
            raise ValueError(f"permission must be one of {', '.join(PERMISSIONS)}")
        for attr in ("estimated_duration", "time_limit", "max_attempts", "concurrency"):
            value = getattr(self, attr)
            if not isinstance(value, int) or isinstance(value, bool) or value < (0 if attr == "estimated_duration" else 1):
                raise ValueError(f"{attr} must be a positive integer")
        if not isinstance(self.schema, Mapping):
            raise ValueError("schema must be a JSON Schema object")

    def to_wire(self) -> dict[str, Any]:
        """The action's entry in a ``register`` frame."""
        return {
            "name": self.name,
            "estimated_duration": self.estimated_duration,
            "permission": self.permission,
            "time_limit": self.time_limit,
            "max_attempts": self.max_attempts,
            "schema": dict(self.schema),
        }
