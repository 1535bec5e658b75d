"""Exact reverses on the real kernel: a generated lab is built, then every operation of its plan is
reversed, last first, strictly (an error would raise) — and nothing of the lab is left."""

from __future__ import annotations

import pytest

from ..labs import random_lab, switch_ports
from netnb.plan import SetBridgePort

pytestmark = pytest.mark.kernel


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_generated_lab_undone_operation_by_operation_leaves_nothing(seed):
    lab = random_lab(seed, name=f"undo{seed}")
    with lab:
        backend = lab.live()
        assert len(backend.namespace_inodes()) == len(lab.topology.nodes)
        backend.apply(lab.plan().reverse())  # not the teardown's shortcut: every step, exactly undone
        assert backend.namespace_inodes() == {}


def test_bridge_port_options_undo_to_the_kernels_defaults():
    lab = switch_ports("undo-ports", backend="kernel")
    options = [op for op in lab.plan() if isinstance(op, SetBridgePort)]
    assert [op.ifname for op in options] == ["A-eth0", "B-eth0", "C-eth0", "D-eth0"]
    with lab:
        sw = lab["sw"]
        shown = sw.run("bridge -d link show", check=True).stdout
        assert shown.count("isolated on") == 2 and "learning off" in shown and " flood off" in shown
        lab.live().apply([op.reverse() for op in options])
        shown = sw.run("bridge -d link show", check=True).stdout
        assert shown.count("priority 32 cost 2") == 4, shown
        assert shown.count("hairpin off guard off root_block off fastleave off learning on flood on") == 4, shown
        assert shown.count("isolated off") == 4, shown
