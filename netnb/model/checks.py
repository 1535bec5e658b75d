"""Checks of the numbers and paths users pass (timeouts, counts, file paths): a clear UsageError before anything runs.

>>> seconds(0.5), count(3)
(0.5, 3)
>>> seconds(0)
Traceback (most recent call last):
netnb.errors.UsageError: timeout must be a positive number of seconds, not 0
"""

from __future__ import annotations

import posixpath

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


#: Top-level folders every node sees as the machine has them (the kernel's own views, and devices): a lab's
#: files never go there.
KEPT_FOLDERS = frozenset({"proc", "sys", "dev"})


def file_path(value: object, what: str = "path") -> str:
    """``value`` if it is an absolute, normalised path a node's own file may have; else a UsageError.

    >>> file_path("/etc/hosts")
    '/etc/hosts'
    >>> file_path("etc/../hosts")
    Traceback (most recent call last):
    netnb.errors.UsageError: path must be absolute and normalised (like /etc/hosts), not 'etc/../hosts'
    """
    if not isinstance(value, str) or not value.startswith("/") or posixpath.normpath(value) != value \
            or value == "/" or "\0" in value:
        raise UsageError(f"{what} must be absolute and normalised (like /etc/hosts), not {value!r}")
    top = value.split("/")[1]
    if top in KEPT_FOLDERS:
        raise UsageError(f"{what} {value!r} is in /{top}, which every node sees as the machine has it; "
                         "a node's own files go elsewhere (/etc, /var, /root, /tmp...)")
    return value


def share_name(value: object) -> str:
    """``value`` if it can name a shared folder in the lab's folder (no slashes, not a dot name).

    >>> share_name("shared")
    'shared'
    """
    if not isinstance(value, str) or not value or "/" in value or value.startswith(".") or "\0" in value:
        raise UsageError(f"a shared folder's name is a plain folder name (like 'shared'), not {value!r}")
    return value


def file_mode(value: object) -> int:
    """``value`` if it is a file mode (``0o644``, ``0o755``); else a UsageError.

    >>> oct(file_mode(0o755))
    '0o755'
    """
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 0o7777:
        raise UsageError(f"mode must be a file mode from 0o0 to 0o7777 (like 0o644), not {value!r}")
    return value
