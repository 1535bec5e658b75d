"""Views of running labs: live drawings, node state, the widget driven as a user would (in-kernel)."""

from __future__ import annotations


import pytest

from netnb.plan import SetLinkState

from ..labs import three_pcs
from .helpers import wait_until

pytestmark = pytest.mark.kernel


def test_live_drawing_marks_down_links_and_counts_packets():
    lab = three_pcs("live-draw")
    with lab:
        lab["A"].ping(lab["B"], count=2)
        lab.apply([SetLinkState("C", "eth0", False)])
        d = lab.drawing(live=True)
        down = {(lk.a, lk.b) for lk in d.links if lk.down}
        assert down == {("C", "sw")}
        a_end = next(lk.label_a for lk in d.links if lk.a == "A")
        assert "eth0 10.0.0.1/24" in a_end and "tx" in a_end
        tx = int(a_end.split("tx ")[1])
        assert tx >= 3  # ARP request + 2 echo requests
        fig = lab.draw(live=True).figure
        down_lines = [c for c in fig.axes[0].collections if c.get_label() == "_down"]
        assert len(down_lines) == 1 and len(down_lines[0].get_segments()) == 1


def test_node_state_and_switch_tables():
    lab = three_pcs("state")
    with lab:
        lab["A"].ping(lab["B"], count=1)
        state = lab["A"].inspect()
        bundle = state._repr_mimebundle_()
        assert "10.0.0.1/24" in bundle["text/plain"] and "10.0.0.0/24 dev eth0" in bundle["text/plain"]
        assert "10.0.0.2" in bundle["text/html"]           # the ARP entry for B
        fdb = lab["sw"].fdb()
        assert "A-eth0" in fdb._repr_mimebundle_()["text/html"]
        assert [p.name for p in lab["sw"].ports()] == ["A-eth0", "B-eth0", "C-eth0"]
        assert "interfaces of A" in lab["A"].interfaces()._repr_mimebundle_()["text/plain"]


def test_widget_clicks_and_live_capture_in_kernel():
    lab = three_pcs("widget")
    with lab:
        widget = lab.widget()
        assert len(widget.picture.value) > 1000
        widget.nodes.value = "B"                                  # a click on node B
        assert "10.0.0.2/24" in widget.details.value
        widget.nodes.value = "sw"
        assert "A-eth0" in widget.details.value
        widget.nodes.value = "C"
        widget.filter.value = "icmp"
        widget.start_button.click()
        assert widget.stop_button.disabled is False and widget.capture.running
        lab["A"].ping(lab["C"], count=3, interval=0.1)
        assert wait_until(lambda: widget.packets.value.count("echo-request") >= 3, timeout=5)  # filled live
        widget.stop_button.click()
        assert "6 packets, 0 dropped" in widget.status.value
        assert widget.start_button.disabled is False
        widget.nodes.set_state({"index": 0})                       # as the browser sends a click
        assert "10.0.0.1/24" in widget.details.value              # (observers run as the state is set)


def test_widget_before_start_shows_the_description():
    lab = three_pcs("widget-described")
    widget = lab.widget()
    widget.nodes.value = "A"
    assert "10.0.0.1/24" in widget.details.value and "described" in widget.details.value
