"""Switch priorities in the spanning tree: the lowest is the root, whatever the random MACs (simulation;
tests/sim/test_differential.py compares it with the kernel)."""

from __future__ import annotations

import pytest

import netnb
from tests import labs


@pytest.mark.parametrize("seed", range(4))
def test_the_lowest_priority_is_the_root(seed):
    with labs.stp_ring(f"prio-{seed}", backend="sim", priorities=(8192, 4096, None)) as lab:
        lab.wait_ready(30)
        states = {s: lab[s].run("bridge link").stdout for s in ("s1", "s2", "s3")}
        # s2 is the root: all its ports forward; s1 (next) forwards towards s3; so s3's port to s1 blocks
        assert "blocking" not in states["s2"] and "blocking" not in states["s1"]
        assert states["s3"].count("blocking") == 1
        blocked = next(line for line in states["s3"].splitlines() if "blocking" in line)
        peer = lab.resolved().node("s3").interface(blocked.split(":")[1].strip().split("@")[0])
        assert peer is not None and peer.peer_node == "s1"


def test_priority_is_planned_and_checked():
    lab = labs.stp_ring("prio-plan", backend="sim", priorities=(8192, None, None))
    assert "ip -n s1 link add s1 type bridge ageing_time 30000 stp_state 1 forward_delay 200 priority 8192" in \
        lab.plan().script()
    bad = netnb.Lab("prio-bad", backend="sim")
    bad.switch("sw", priority=4096)
    bad.switch("sw2", stp=True, priority=70000)
    problems = bad.validate()
    assert problems == [
        "switch 'sw': priority=4096: give a number from 0 to 65535 (lower wins the root election; 32768 is the "
        "default), with stp=True",
        "switch 'sw2': priority=70000: give a number from 0 to 65535 (lower wins the root election; 32768 is the "
        "default), with stp=True"]
