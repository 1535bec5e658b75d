"""Checks of the numbers users pass (timeouts, counts): a clear UsageError before anything runs.

>>> seconds(0.5), count(3)
(0.5, 3)
>>> seconds(0)
Traceback (most recent call last):
netnb.errors.UsageError: timeout must be a positive number of seconds, not 0
"""

from __future__ import annotations

from netnb.errors import UsageError


def seconds(value: object, what: str = "timeout", *, most: float | None = None) -> float:
    """``value`` if it is a number of seconds above 0 (and at most ``most``); else a UsageError."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0 \
        and (most is None or value <= most)
    if not ok:
        limit = f" (at most {most:g})" if most is not None else ""
        raise UsageError(f"{what} must be a positive number of seconds{limit}, not {value!r}")
    return float(value)  # type: ignore[arg-type]


def count(value: object, what: str = "count", *, most: int = 100_000) -> int:
    """``value`` if it is a whole number from 1 to ``most``; else a UsageError."""
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= most:
        raise UsageError(f"{what} must be a whole number from 1 to {most}, not {value!r}")
    return value
