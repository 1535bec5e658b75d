"""An interactive lab view for Jupyter (ipywidgets 8, no build step): the topology, a node's details on
click, and a capture panel whose packet table fills while traffic flows.

Captures run in the agent and a background thread refreshes the table, so the buttons keep working
while no cell runs (ipykernel >= 7.1 lets background threads update widgets). In Pyodide (JupyterLite),
which has no threads, the browser's event loop refreshes it instead (``asyncio``'s ``call_later``).
"""

from __future__ import annotations

import asyncio
import sys
import threading
from typing import TYPE_CHECKING, cast

import ipywidgets as w

from netnb.model import NodeKind

if TYPE_CHECKING:
    from netnb.capture.capture import Capture
    from netnb.lab import Lab
    from netnb.nodes import Host, Switch


class LabWidget(w.VBox):
    """``lab.widget()``: click a node (button) to see it; start/stop a capture at it with a filter."""

    def __init__(self, lab: Lab, refresh_s: float = 0.5) -> None:
        self.lab = lab
        self.refresh_s = refresh_s
        self.capture: Capture | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._rounds = 0
        names = list(lab.nodes)
        self.picture = w.Image(format="svg+xml", layout=w.Layout(max_width="100%"))
        self.nodes = w.ToggleButtons(options=names, value=None, description="node", style={"button_width": "auto"})
        self.details = w.HTML()
        self.filter = w.Text(value="", placeholder="tcpdump filter, e.g. icmp or arp", description="filter")
        self.start_button = w.Button(description="start capture", icon="play", button_style="success")
        self.stop_button = w.Button(description="stop", icon="stop", disabled=True)
        self.status = w.HTML("<i>pick a node, then start a capture there</i>")
        self.packets = w.HTML()
        self.nodes.observe(self._on_node, names="value")
        self.start_button.on_click(self._on_start)
        self.stop_button.on_click(self._on_stop)
        self.redraw()
        panel = w.VBox([w.HBox([self.filter, self.start_button, self.stop_button]), self.status, self.packets])
        super().__init__([self.picture, self.nodes, self.details, panel])

    def redraw(self) -> None:
        """Draw the topology again (with live link state and counters while the lab runs)."""
        self.picture.value = self.lab.draw(live=self.lab.running).svg().encode()

    def _on_node(self, change: dict[str, object]) -> None:
        name = change.get("new")
        if not name:
            self.details.value = ""
            return
        node = self.lab[str(name)]
        if not self.lab.running:
            self.details.value = node.description().html()
            return
        if node.kind.is_l2:  # told by the model's kind: the view does not import the runtime nodes
            switch = cast("Switch", node)
            self.details.value = switch.ports().table().html() + switch.fdb().table().html()
        elif node.kind in (NodeKind.HOST, NodeKind.ROUTER):
            self.details.value = cast("Host", node).inspect()._repr_mimebundle_()["text/html"]
        else:
            self.details.value = node.description().html()

    def _on_start(self, _button: object = None) -> None:
        if not self.nodes.value:
            self.status.value = "<b>pick a node first</b>"
            return
        self.capture = self.lab.capture(self.lab[str(self.nodes.value)], filter=self.filter.value or None)
        self.capture.start()
        self.start_button.disabled, self.stop_button.disabled = True, False
        self._stop.clear()
        if sys.platform == "emscripten":  # no threads: the page's event loop calls back
            self._rounds = 0
            self._timer = asyncio.get_event_loop().call_later(self.refresh_s, self._tick)
        else:
            self._thread = threading.Thread(target=self._follow, daemon=True)
            self._thread.start()
        self.status.value = f"capturing at <b>{self.nodes.value}</b>…"

    def _follow(self) -> None:
        while not self._stop.wait(self.refresh_s):
            self._refresh()

    def _tick(self) -> None:
        if not self._stop.is_set():
            self._refresh()
            self._timer = asyncio.get_event_loop().call_later(self.refresh_s, self._tick)

    def _refresh(self) -> None:
        self.update_table()
        self._rounds += 1
        if self._rounds % 4 == 0:  # the drawing's packet counters too, less often (drawing costs ~0.1 s)
            self.redraw()

    def update_table(self) -> None:
        """Read what was captured so far and show it."""
        if self.capture is not None:
            if self.capture.running:
                self.capture.refresh()
            self.packets.value = self.capture.table().html()

    def _on_stop(self, _button: object = None) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._timer is not None:
            self._timer.cancel()
        self.redraw()  # the drawing's packet counters now include the capture's traffic
        if self.capture is not None:
            self.capture.stop()
            self.update_table()
            self.status.value = f"stopped: {len(self.capture)} packets, {self.capture.dropped} dropped"
        self.start_button.disabled, self.stop_button.disabled = False, True
