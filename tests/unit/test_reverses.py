"""Every operation reverses exactly, over generated labs: ``op.reverse().reverse() == op``, both survive
JSON, and on the in-memory backend applying an operation then its reverse gives back the state before."""

from __future__ import annotations

import random

import pytest

from netnb.backends.memory import MemoryBackend
from netnb.plan import (
    AddFdb,
    AddRoute,
    AddVxlan,
    IptablesPolicy,
    IptablesRule,
    Operation,
    SetBridgePort,
    operation_from_dict,
)

from ..labs import random_lab

SEEDS = range(40)


def operations(seed: int) -> list[Operation]:
    """A generated lab's plan, plus the kinds only the Docker layer makes while a lab runs."""
    ops = list(random_lab(seed).plan())
    ops += [AddVxlan("r0", "vx0", 42, "10.0.0.1", master=None, target_node="r1"),
            AddFdb("r1", "vx0", "00:00:00:00:00:00", "10.0.0.2"),
            IptablesRule("r0", "filter", "FORWARD", ("-j", "ACCEPT"), 1),
            IptablesPolicy("r0", "filter", "FORWARD", "DROP"),
            AddRoute("r0", "10.99.0.0/16", None, None, ("10.0.0.2", "10.0.0.3")),
            SetBridgePort("s0", "h00-eth0", hairpin=True, learning=False, cost=100, priority=8)]
    return ops


@pytest.mark.parametrize("seed", SEEDS)
def test_every_reverse_is_exact_and_survives_json(seed):
    for op in operations(seed):
        back = op.reverse()
        assert back.reverse() == op, op
        assert back != op, op  # (sysctls, link states and policies undo with their own kind, other values)
        for one in (op, back):
            assert operation_from_dict(one.to_dict()) == one
            assert one.commands() and all(isinstance(c, str) for c in one.commands())


def snapshot(backend: MemoryBackend) -> dict[str, object]:
    """The state a user could observe, without what re-creation changes (interface indexes, MACs) and
    lo's 127.0.0.1/8, which the kernel gives lo when it first comes up and keeps when it goes down (the
    one reverse the kernel itself does not make exact; seen with `unshare -n`)."""
    out: dict[str, object] = {}
    for name, node in backend.nodes.items():
        links = {l.name: (l.kind, l.up, l.mtu, l.master, sorted(a for a in l.addresses if l.kind != "loopback"),
                          l.peer) for l in node.links.values()}
        out[name] = (links, list(node.routes), list(node.rules), list(node.chains), dict(node.policies))
    return out


@pytest.mark.parametrize("seed", SEEDS)
def test_applying_an_operation_then_its_reverse_changes_nothing(seed):
    rnd = random.Random(seed)
    lab = random_lab(seed)
    plan = list(lab.plan())
    backend = MemoryBackend()
    backend.start(lab.name)
    try:
        checked = 0
        for op in plan:
            if rnd.random() < 0.5:
                before = snapshot(backend)
                backend.apply([op])
                backend.apply([op.reverse()])
                assert snapshot(backend) == before, op
                checked += 1
            backend.apply([op])
        assert checked > 0
        backend.apply(list(lab.plan().reverse()))  # the whole plan, undone step by step, strictly
        assert backend.nodes == {}
    finally:
        backend.close()
