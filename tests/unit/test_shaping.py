"""Rate-limited links without a kernel: what rate= accepts, the plan's tc commands and their reverse, lab
files, Mininet's bandwidth, and the simulated token bucket (timing, queue, drops). The tc formats are
checked against the kernel by tests/sim/test_differential.py."""

from __future__ import annotations

import ipaddress

import pytest

import netnb
from netnb.errors import TopologyError
from netnb.labfile import load_text
from netnb.model.shaping import Tbf, parse_rate
from netnb.plan import AddShaper, DelShaper
from tests import labs


def test_rates_are_read_as_tc_writes_them():
    assert [parse_rate(x) for x in ("10mbit", "10Mbit", "500kbit", "1gbit", "1.5mbit", "2mbps", 64_000, "8bit")] == \
        [10_000_000, 10_000_000, 500_000, 1_000_000_000, 1_500_000, 16_000_000, 64_000, 8]
    assert [parse_rate(x) for x in ("fast", "10 furlongs", -5, 0, True, None, "")] == [None] * 7


def test_a_rate_limited_link_in_the_plan():
    lab = labs.rated("sh-plan")
    ops = [op for op in lab.plan() if isinstance(op, AddShaper)]
    assert [(op.node, op.ifname, op.rate) for op in ops] == [("A", "eth0", 8_000_000), ("R", "eth0", 2_000_000)]
    assert "tc -n R qdisc add dev eth0 root tbf rate 2mbit burst 3028 latency 50ms" in lab.plan().script()
    assert ops[0].reverse() == DelShaper("A", "eth0", 8_000_000, 10_000, 60_000)
    assert ops[0].reverse().reverse() == ops[0]
    one_way = labs.rated("sh-one", rate=(None, "1mbit"))
    assert [op.node for op in one_way.plan() if isinstance(op, AddShaper)] == ["R"]


def test_rate_problems_are_named():
    lab = netnb.Lab("sh-bad")
    a, b = lab.host("A"), lab.host("B")
    lab.link(a, b, ip=("10.0.0.1/24", "10.0.0.2/24"), rate="fast")
    lab.link(a, b, ip=("10.0.1.1/24", "10.0.1.2/24"), rate=("1mbit", "500bit"))
    lab.link(a, b, ip=("10.0.2.1/24", "10.0.2.2/24"), rate=("1mbit", "2mbit", "3mbit"))  # type: ignore[arg-type]
    with pytest.raises(TopologyError) as info:
        lab.resolved()
    text = "\n".join(info.value.problems)
    for fragment in ("rate 'fast' is not a rate", "rate '500bit' is not a rate from 1kbit", "one rate or a pair"):
        assert fragment in text, (fragment, text)


def test_lab_files_and_mininet_bandwidth_give_rates():
    lab = load_text("name: shf\nnodes: {A: host, B: host}\n"
                    "links: [{a: A, b: B, ip: [10.0.0.1/24, 10.0.0.2/24], rate: [10mbit, null]}]\n")
    assert [op.node for op in lab.plan() if isinstance(op, AddShaper)] == ["A"]
    with pytest.raises(TopologyError, match="rate 'quick' is not a rate"):
        load_text("name: shf\nnodes: {A: host, B: host}\nlinks: [{a: A, b: B, ip: [10.0.0.1/24, 10.0.0.2/24], "
                  "rate: quick}]\n")


def test_the_simulated_bucket_paces_and_its_queue_drops_what_overflows():
    with labs.rated("sh-sim", rate="1mbit") as lab:
        world = lab.live().world  # type: ignore[attr-defined]
        shaper = world.stacks["A"].devices["eth0"].shaper
        assert shaper.tbf == Tbf.for_rate(1_000_000) and shaper.tbf.limit == 9278
        # 40 full-size UDP datagrams at once: the bucket (3028 bytes) passes two, the queue (its limit: 50 ms
        # of the rate and the bucket, 9278 bytes) holds six more, the rest is dropped; those kept leave
        # 12.1 ms apart (1514 bytes at 1 Mbit/s).
        lab["A"].ping("10.0.2.2", count=1)  # (A knows R's MAC: the datagrams leave at once)
        lab["A"].run("sleep 0.1")  # (the bucket fills again after the ping)
        stack = world.stacks["A"]
        sent: list[int] = []
        stack.devices["eth0"].hooks.append(lambda stamp, frame, out: sent.append(stamp) if out and len(frame) > 1000
                                           else None)
        for _ in range(40):
            stack.send_udp(ipaddress.IPv4Address("10.0.1.2"), ipaddress.IPv4Address("10.0.2.2"), 5000, 9000,
                           b"x" * 1472)
        assert len(shaper.queue) == 6 and shaper.drops == 32
        lab["A"].run("sleep 1")
        shown = lab["A"].run("tc -s qdisc show dev eth0").stdout
        assert " Sent 12252 bytes 10 pkt (dropped 32, " in shown, shown  # (and the ping's ARP request and echo)
        gaps = [b - a for a, b in zip(sent, sent[1:])]
        assert all(abs(g - 12_112_000) < 20_000 for g in gaps[2:]), gaps
