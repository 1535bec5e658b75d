"""A drawing that shows itself: a matplotlib Figure wrapped for every notebook front end.

A bare ``matplotlib.figure.Figure`` returned from a cell shows as ``<Figure size 648x486 with 1 Axes>``
in a fresh kernel: the inline backend registers its display hook only once pyplot is imported, and
netnb never touches pyplot's global state. A :class:`Picture` renders itself instead, through
``_repr_mimebundle_``: SVG (sharp, text stays text) and PNG (for viewers of saved notebooks that drop
SVG), plus a one-line ``text/plain``. It is rendered once, when first shown, and never does I/O. Where
matplotlib is missing (the browser build), a Picture holds SVG text drawn by :mod:`netnb.view.svg`
instead of a Figure: ``figure`` is then None and the bundle has no PNG.

>>> from matplotlib.figure import Figure
>>> fig = Figure(figsize=(2, 1)); _ = fig.add_subplot().plot([0, 1])
>>> pic = Picture(fig, "a line")
>>> sorted(pic._repr_mimebundle_())
['image/png', 'image/svg+xml', 'text/plain']
>>> pic.figure is fig, str(pic)
(True, '<picture: a line>')
"""

from __future__ import annotations

import base64
import io
from typing import TYPE_CHECKING, Any

from netnb.errors import FeatureMissingError

if TYPE_CHECKING:
    from matplotlib.figure import Figure


class Picture:
    """A figure with a title; ``picture.figure`` is the matplotlib Figure, ``savefig`` saves it.

    Example: ``lab.draw().savefig("lab.svg"); cap.ladder().figure.axes``
    """

    def __init__(self, figure: Figure | None, title: str, svg: str | None = None) -> None:
        if figure is None and svg is None:
            raise ValueError("a Picture needs a matplotlib Figure or SVG text")
        self.figure = figure
        self.title = title
        self._svg: str | None = svg
        self._png: bytes | None = None

    def savefig(self, fname: Any, **kwargs: Any) -> None:
        """``Figure.savefig``: the format follows the file name (``.svg``, ``.png``, ``.pdf``); without
        matplotlib only ``.svg`` (or ``format="svg"``)."""
        if self.figure is not None:
            self.figure.savefig(fname, **kwargs)
            return
        svg_asked = kwargs.get("format") == "svg" or str(fname).lower().endswith(".svg")
        if not svg_asked:
            raise FeatureMissingError("without matplotlib a picture saves only as SVG: give a name ending in .svg")
        if hasattr(fname, "write"):
            fname.write(self.svg() if isinstance(fname, io.TextIOBase) else self.svg().encode())
        else:
            with open(fname, "w", encoding="utf-8") as out:
                out.write(self.svg())

    def svg(self) -> str:
        """The picture as an SVG document (text kept as text, so it stays small and searchable)."""
        if self._svg is None:
            from matplotlib import rc_context

            assert self.figure is not None
            out = io.StringIO()
            with rc_context({"svg.fonttype": "none"}):
                self.figure.savefig(out, format="svg")
            text = out.getvalue()
            self._svg = text[text.find("<svg"):]
        return self._svg

    def png(self, dpi: int = 80) -> bytes:
        """The picture as PNG bytes."""
        if self.figure is None:
            raise FeatureMissingError("a PNG needs matplotlib (pip install matplotlib); .svg() has the picture")
        if self._png is None:
            out = io.BytesIO()
            self.figure.savefig(out, format="png", dpi=dpi)
            self._png = out.getvalue()
        return self._png

    def _repr_mimebundle_(self, include: object = None, exclude: object = None) -> dict[str, str]:
        if self.figure is None:
            return {"image/svg+xml": self.svg(), "text/plain": str(self)}
        return {"image/svg+xml": self.svg(), "image/png": base64.b64encode(self.png()).decode("ascii"),
                "text/plain": str(self)}

    def __str__(self) -> str:
        return f"<picture: {self.title}>"

    __repr__ = __str__
