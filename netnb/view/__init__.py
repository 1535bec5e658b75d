"""Rendering: tables and drawings for notebooks. Nothing here does I/O; it shows what it is given."""

import logging


def _quiet_matplotlib_cache_warning(record: logging.LogRecord) -> bool:
    """A user without a writable home (``nobody``, a locked-down grader) gets a warning about matplotlib's
    cache folder on import; matplotlib then uses a temporary one, which is all netnb needs."""
    message = record.getMessage()
    return not (message.startswith("mkdir -p failed for path") or "created a temporary cache directory" in message)


logging.getLogger("matplotlib").addFilter(_quiet_matplotlib_cache_warning)

from netnb.view import render  # noqa: E402,F401  (registers how the model's records show themselves)
from netnb.view.table import Table  # noqa: E402

__all__ = ["Table"]
