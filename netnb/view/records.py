"""Lists of read-back records that show themselves as tables (and stay ordinary lists).

>>> from netnb.model import RouteEntry
>>> rows = RecordList([RouteEntry("default", "10.0.0.1", "eth0", "static", "global")], "routes of A",
...                   hide=("nexthops",))
>>> print(rows.table().text())
routes of A
dest     via       dev   proto   scope   src
default  10.0.0.1  eth0  static  global
"""

from __future__ import annotations

import dataclasses
from typing import Any, Generic, TypeVar

from netnb.view.table import Table

T = TypeVar("T")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else ""
    if isinstance(value, float):
        return f"{value:.1f}"
    if isinstance(value, (tuple, list)):  # words (flags), or records of their own (a route's next hops)
        return (", " if value and dataclasses.is_dataclass(value[0]) else " ").join(str(v) for v in value)
    return str(value)


class RecordList(list, Generic[T]):  # type: ignore[type-arg]
    """A list of dataclass records (interfaces, routes, MAC entries...) with a table repr."""

    def __init__(self, items: list[T], title: str = "", hide: tuple[str, ...] = ()) -> None:
        super().__init__(items)
        self.title = title
        self.hide = hide

    def table(self) -> Table:
        """The records as a table, one column per field."""
        if not self:
            return Table(["(none)"], [], title=self.title)
        fields = [f.name for f in dataclasses.fields(self[0]) if f.name not in self.hide]
        rows = [[_cell(getattr(r, f)) for f in fields] for r in self]
        return Table(fields, rows, title=self.title)

    def _repr_mimebundle_(self, include: object = None, exclude: object = None) -> dict[str, str]:
        return self.table()._repr_mimebundle_()
