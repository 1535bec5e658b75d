"""Package names that load their module on first use (PEP 562), so importing a package costs little.

Written here rather than taken from ``lazy_loader``: fifteen lines do not justify a dependency.

>>> getattr_, dir_ = attach("netnb", {"NetnbError": "netnb.errors"})
>>> getattr_("NetnbError").__name__
'NetnbError'
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any


def attach(package: str, where: dict[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``, whose names live in the modules ``where`` gives."""

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)  # found directly next time
        return value

    def __dir__() -> list[str]:
        return sorted([*vars(sys.modules[package]), *where])

    return __getattr__, __dir__
