"""How long a face was on screen before its answer, as votes and confirmations store it."""

from __future__ import annotations

MAX_TIME_SPENT_MS = 3_600_000
"""An hour: a face on screen longer than this means the annotator walked away, not that they thought."""


def time_on_screen(milliseconds: int) -> int:
    """``milliseconds`` as stored: never negative, never over :data:`MAX_TIME_SPENT_MS`."""
    return max(0, min(int(milliseconds), MAX_TIME_SPENT_MS))
