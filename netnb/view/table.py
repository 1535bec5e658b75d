"""A table that renders as text and as self-contained HTML (scoped CSS, no JavaScript, a <pre> fallback).

>>> t = Table(["No.", "src"], [["1", "10.0.0.1"], ["2", "<b>"]], title="demo")
>>> print(t.text())
demo
No.  src
1    10.0.0.1
2    <b>
>>> "&lt;b&gt;" in t.html()
True
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field

_CSS = """<style>
.netnb-table {border-collapse: collapse; font: 12px/1.4 ui-monospace, SFMono-Regular, Menlo, monospace;}
.netnb-table th {text-align: left; border-bottom: 1px solid #888; padding: 2px 8px;}
.netnb-table td {padding: 1px 8px; white-space: nowrap;}
.netnb-table tr.netnb-gap td {text-align: center; color: #888; font-style: italic;}
.netnb-table mark {background: #ffe08a;}
.netnb-title {font: bold 13px sans-serif; margin: 4px 0;}
.netnb-note {font: 12px sans-serif; color: #555;}
</style>"""


#: Inline (not only in <style>): front ends that drop style sheets from outputs still show a terminal.
MONO = ("font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, 'DejaVu Sans Mono', monospace; "
        "font-size: 12px; line-height: 1.35; white-space: pre; overflow-x: auto; margin: 2px 0;")


def terminal(text: str, colour: str | None = None) -> str:
    """``text`` as a terminal shows it: monospace, every space and line break kept, HTML-escaped.

    >>> terminal("a  <b>")[-18:]
    'a  &lt;b&gt;</pre>'
    """
    tint = f" color: {colour};" if colour else ""
    return f'<pre class="netnb-term" style="{MONO}{tint}">{html.escape(text)}</pre>'


@dataclass
class Table:
    """Rows of strings under named columns; ``gap_at``/``hidden`` mark rows left out between head and tail."""

    columns: Sequence[str]
    rows: Sequence[Sequence[str]]
    title: str = ""
    note: str = ""
    gap_at: int | None = None
    hidden: int = 0
    highlight: set[tuple[int, int]] = field(default_factory=set)

    def _gap_text(self) -> str:
        return f"… {self.hidden} more not shown …"

    def text(self) -> str:
        """Aligned plain text."""
        widths = [len(c) for c in self.columns]
        for row in self.rows:
            widths = [max(w, len(cell)) for w, cell in zip(widths, row)]
        def line(cells: Sequence[str]) -> str:
            return "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()
        out = [self.title] if self.title else []
        out.append(line(self.columns))
        for i, row in enumerate(self.rows):
            if i == self.gap_at:
                out.append(self._gap_text())
            out.append(line(row))
        if self.note:
            out.append(self.note)
        return "\n".join(out)

    def html(self) -> str:
        """Self-contained HTML: scoped CSS, escaped cells, highlighted changes, a text fallback."""
        head = "".join(f"<th>{html.escape(c)}</th>" for c in self.columns)
        body = []
        for i, row in enumerate(self.rows):
            if i == self.gap_at:
                body.append(f'<tr class="netnb-gap"><td colspan="{len(self.columns)}">{html.escape(self._gap_text())}</td></tr>')
            cells = []
            for j, cell in enumerate(row):
                text = html.escape(cell)
                cells.append(f"<td><mark>{text}</mark></td>" if (i, j) in self.highlight else f"<td>{text}</td>")
            body.append("<tr>" + "".join(cells) + "</tr>")
        title = f'<div class="netnb-title">{html.escape(self.title)}</div>' if self.title else ""
        note = f'<div class="netnb-note">{html.escape(self.note)}</div>' if self.note else ""
        fallback = f"<details><summary>as text</summary>{terminal(self.text())}</details>"
        return (f'<div class="netnb">{_CSS}{title}<table class="netnb-table"><thead><tr>{head}</tr></thead>'
                f'<tbody>{"".join(body)}</tbody></table>{note}{fallback}</div>')

    def _repr_mimebundle_(self, include: object = None, exclude: object = None) -> dict[str, str]:
        return {"text/plain": self.text(), "text/html": self.html()}

    def __str__(self) -> str:
        return self.text()


def card(title: str, fields: Sequence[tuple[str, str]], note: str = "") -> dict[str, str]:
    """The display bundle of one object: a two-column table of its fields under a title.

    >>> print(card("VM vm1", [("ip", "10.0.1.11/24")])["text/plain"])
    VM vm1
    ip  10.0.1.11/24
    """
    table = Table(["", ""], [[k, v] for k, v in fields], title=title, note=note)
    text = "\n".join([title, *table.text().splitlines()[2:]])
    return {"text/plain": text, "text/html": table.html()}
