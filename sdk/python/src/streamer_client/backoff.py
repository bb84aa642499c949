"""Reconnect delays: exponential backoff with jitter.

The seed waits ``2**n`` seconds before attempt ``n`` (n = 0, 1, ...). We keep that as
the upper bound and spread clients over the upper half of the interval ("equal
jitter"), so that many clients dropped at once by a restarting server do not all
come back in the same millisecond.
"""
from __future__ import annotations

import random
from collections.abc import Callable

DEFAULT_MAX_DELAY = 30.0


def backoff_delay(
    attempt: int,
    base: float = 1.0,
    *,
    max_delay: float = DEFAULT_MAX_DELAY,
    jitter: float = 0.5,
    rng: Callable[[], float] = random.random,
) -> float:
    """Delay in seconds before reconnect attempt ``attempt`` (0-based).

    The nominal delay is ``base * 2**attempt`` capped at ``max_delay``; a random
    fraction ``jitter`` of it is removed, so the result lies in
    ``[nominal * (1 - jitter), nominal]``.
    """
    if attempt < 0:
        raise ValueError("attempt must be >= 0")
    if not 0.0 <= jitter <= 1.0:
        raise ValueError("jitter must be within [0, 1]")
    nominal = min(max_delay, base * (2.0 ** min(attempt, 62)))
    return nominal * (1.0 - jitter) + nominal * jitter * rng()
