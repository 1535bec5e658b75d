"""Rendering: tables and drawings for notebooks. Nothing here does I/O; it shows what it is given."""

from netnb.view.table import Table

__all__ = ["Table"]
