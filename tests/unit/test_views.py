"""Reprs and drawings of described labs and of results: content checked, no kernel needed."""

from __future__ import annotations

import base64
import io

from matplotlib.figure import Figure

import netnb
from netnb.model import FdbEntry, InterfaceState, PingResult
from netnb.model.state import CommandResult
from netnb.view.records import RecordList

from ..labs import routed, three_pcs


def test_lab_repr_has_a_drawing_and_tables_of_nodes_links_subnets():
    bundle = routed()._repr_mimebundle_()
    assert bundle["text/plain"].startswith("<Lab 'routed' described")
    html = bundle["text/html"]
    assert "<svg" in html and "<script" not in html
    for fragment in ("10.0.1.0/24", "10.0.2.0/24", "A:eth0 10.0.1.1/24", "router", "subnets"):
        assert fragment in html, fragment


def test_draw_returns_a_picture_with_every_node_and_labelled_ends():
    lab = three_pcs()
    picture = lab.draw()
    fig = picture.figure
    assert isinstance(fig, Figure)
    bundle = picture._repr_mimebundle_()  # shows itself in a fresh kernel, without pyplot
    assert bundle["image/svg+xml"].startswith("<svg") and ">A-eth0<" in bundle["image/svg+xml"]
    assert base64.b64decode(bundle["image/png"])[:8] == b"\x89PNG\r\n\x1a\n"
    assert bundle["text/plain"] == "<picture: lab three-pcs (described)>"
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert {"A", "B", "C", "sw"} <= set(texts)
    assert "eth0 10.0.0.1/24" in texts and "A-eth0" in texts
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend == ["host", "switch (bridge)"]
    buf = io.BytesIO()
    fig.savefig(buf, format="svg")
    assert b"<svg" in buf.getvalue()


def test_drawing_is_deterministic_and_readable_at_fifty_nodes():
    def big() -> netnb.Lab:
        lab = netnb.Lab("fifty")
        core = lab.switch("core", subnet="10.0.0.0/24")
        for i in range(5):
            sw = lab.switch(f"s{i}", subnet=f"10.1.{i}.0/24")
            lab.link(sw, core)
            for j in range(9):
                lab.link(lab.host(f"h{i}{j}"), sw)
        return lab
    from netnb.view.draw import layout

    one, two = layout(big().drawing()), layout(big().drawing())
    assert one == two and len(one) == 51
    fig = big().draw().figure
    assert sum(1 for t in fig.axes[0].texts if t.get_text().startswith("h")) == 45


def test_docker_hosts_group_their_containers_in_a_box():
    from netnb.view.draw import Drawing, DrawLink, DrawNode, draw

    d = Drawing(nodes=[DrawNode("lan", "switch"), DrawNode("u1", "docker-host"),
                       DrawNode("u1/web", "container", "u1", note="172.17.0.2")],
                links=[DrawLink("u1", "lan", "eth0 192.168.3.2/24"), DrawLink("u1/web", "u1")])
    fig = draw(d)
    boxes = [p for p in fig.axes[0].patches if p.get_label() == "_machine"]
    assert len(boxes) == 1
    box = boxes[0]
    x0, y0 = box.get_x(), box.get_y()
    web = next(t for t in fig.axes[0].texts if t.get_text().startswith("web"))
    assert "172.17.0.2" in web.get_text()
    wx, wy = web.get_position()
    assert x0 <= wx <= x0 + box.get_width() and y0 <= wy <= y0 + box.get_height()


def test_without_matplotlib_the_drawing_is_plain_svg_with_the_same_content():
    """What the browser build shows (no matplotlib there): every node, end label, legend entry and machine
    box of the matplotlib drawing, as SVG text; the Picture then has no PNG and saves only SVG."""
    import xml.etree.ElementTree as ET

    from netnb.errors import FeatureMissingError
    from netnb.view.draw import Drawing, DrawLink, DrawNode, drawing_svg, layout
    from netnb.view.picture import Picture

    lab = three_pcs()
    svg = drawing_svg(lab.drawing())
    root = ET.fromstring(svg)  # well-formed
    texts = ["".join(t.itertext()) for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert {"A", "B", "C", "sw"} <= set(texts)
    assert {"eth0 10.0.0.1/24", "A-eth0", "host", "switch (bridge)"} <= set(texts)
    assert texts[0] == "lab three-pcs (described)"
    plain, again = layout(lab.drawing(), plain=True), layout(three_pcs().drawing(), plain=True)
    assert plain == again and len(plain) == 4  # deterministic without networkx too
    boxed = drawing_svg(Drawing(nodes=[DrawNode("lan", "switch"), DrawNode("u1", "docker-host"),
                                       DrawNode("u1/web", "container", "u1", note="172.17.0.2")],
                                links=[DrawLink("u1", "lan", "eth0 192.168.3.2/24"), DrawLink("u1/web", "u1")]))
    assert boxed.count('rx="6"') == 1 and "172.17.0.2" in boxed
    picture = Picture(None, "plain", svg=svg)
    assert sorted(picture._repr_mimebundle_()) == ["image/svg+xml", "text/plain"]
    out = io.StringIO()
    picture.savefig(out, format="svg")
    assert out.getvalue() == svg
    try:
        picture.savefig("lab.png")
        raise AssertionError("a PNG without matplotlib must be refused")
    except FeatureMissingError as exc:
        assert ".svg" in str(exc)


def test_node_repr_is_ip_br_addr_like_without_io():
    lab = routed()
    bundle = lab["A"]._repr_mimebundle_()
    assert bundle["text/plain"].splitlines() == ["router A", "eth0             10.0.1.1/24",
                                                 "eth1             10.0.2.1/24"]
    assert "B:eth0" in bundle["text/html"] and "default" not in bundle["text/html"]
    assert "default via 10.0.1.1" in lab["B"]._repr_mimebundle_()["text/html"]


def test_results_render_at_a_glance():
    ok = PingResult("10.0.0.2", 3, 3, 0.05, 0.07, 0.1, source="A", output="3 packets transmitted")
    lost = PingResult("10.0.0.9", 2, 0, source="A")
    assert "3/3 received, 0% loss" in ok._repr_mimebundle_()["text/plain"]
    assert "✘" in lost._repr_mimebundle_()["text/html"] and "100% loss" in lost._repr_mimebundle_()["text/plain"]
    cmd = CommandResult("A", "ip -br addr", 0, "eth0 UP 10.0.0.1/24\n", "", 0.01)
    assert "eth0 UP 10.0.0.1/24" in cmd._repr_mimebundle_()["text/html"]
    bad = CommandResult("A", "false", 1, "", "<oops>", 0.01)
    assert "&lt;oops&gt;" in bad._repr_mimebundle_()["text/html"]


def test_record_lists_stay_lists_and_show_tables():
    rows = RecordList([FdbEntry("02:00:00:00:00:01", "A-eth0", 1.5)], "MAC table of sw", hide=("local", "static"))
    assert rows[0].port == "A-eth0" and isinstance(rows, list)
    text = rows._repr_mimebundle_()["text/plain"]
    assert "A-eth0" in text and "1.5" in text and "local" not in text
    ifs = RecordList([InterfaceState("eth0", 2, "veth", "aa", "UP", 1500, ("10.0.0.1/24",))], "x")
    assert "10.0.0.1/24" in ifs._repr_mimebundle_()["text/html"]
