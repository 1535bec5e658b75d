"""Display bundles for the model's result records, registered in ``netnb.model.state.DISPLAY`` when the
view loads (the model imports nothing of the view).

>>> from netnb.model import PingResult
>>> "3/3" in bundle(PingResult("10.0.0.2", 3, 3, 0.1, 0.2, 0.3, source="A"))["text/plain"]
True
"""

from __future__ import annotations

import html
from typing import Any

from netnb.model.state import DISPLAY, CommandResult, PingResult
from netnb.view.table import _CSS, MONO, terminal


def _box(title: str, body: str, ok: bool, mono: bool = False) -> str:
    colour = "#1e8449" if ok else "#c0392b"
    font = f"{MONO} font-weight: bold;" if mono else ""
    return (f'<div class="netnb">{_CSS}<div class="netnb-title" style="color:{colour};{font}">'
            f"{html.escape(title)}</div>{body}</div>")


def bundle(obj: Any) -> dict[str, str]:
    """text/plain and text/html for a PingResult or CommandResult."""
    if isinstance(obj, PingResult):
        rtt = (f"rtt min/avg/max {obj.rtt_min_ms:.3f}/{obj.rtt_avg_ms:.3f}/{obj.rtt_max_ms:.3f} ms"
               if obj.rtt_avg_ms is not None else "no reply")
        text = (f"ping {obj.source} → {obj.target}: {obj.received}/{obj.sent} received, "
                f"{obj.loss:.0%} loss, {rtt}")
        body = terminal(obj.output.strip()) if obj.output else ""
        if obj.hint:
            text += f"\n{obj.hint}"
            body = f'<p class="netnb-note">{html.escape(obj.hint)}</p>' + body
        return {"text/plain": text, "text/html": _box(("✔ " if obj.ok else "✘ ") + text, body, obj.ok)}
    if isinstance(obj, CommandResult):
        head = f"{obj.node}$ {obj.command}  (rc={obj.rc}, {obj.duration_s * 1000:.0f} ms)"
        text = head + (f"\n{obj.stdout.rstrip()}" if obj.stdout.strip() else "") + \
            (f"\n[stderr]\n{obj.stderr.rstrip()}" if obj.stderr.strip() else "")
        body = terminal(obj.stdout.rstrip()) if obj.stdout.strip() else ""
        if obj.stderr.strip():
            body += terminal(obj.stderr.rstrip(), "#c0392b")
        return {"text/plain": text, "text/html": _box(head, body, obj.ok, mono=True)}
    raise TypeError(f"no display for {type(obj).__name__}")


DISPLAY[PingResult] = DISPLAY[CommandResult] = bundle  # the model's records show themselves through this
