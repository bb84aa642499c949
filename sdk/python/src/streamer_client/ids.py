"""Request ids.

The seed recommends ``${Date.now()}-${random base36}``. We keep that shape (so ids
sort by creation time and read the same in server logs) but draw the random part
from :mod:`secrets` and make it longer: async ids are idempotent per (tenant, user)
on the server, so a collision would silently return someone else's earlier result
to a new request of the same user.
"""
from __future__ import annotations

import secrets
import time

_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
_RANDOM_CHARS = 12  # 36**12 ~ 2**62


def new_request_id() -> str:
    """Returns a fresh id like ``1705746645123-k3j9x0q2m1ab``: milliseconds since
    the epoch, a dash, and 12 cryptographically random base-36 characters."""
    millis = int(time.time() * 1000)
    rand = "".join(secrets.choice(_ALPHABET) for _ in range(_RANDOM_CHARS))
    return f"{millis}-{rand}"
