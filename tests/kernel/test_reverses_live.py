"""Exact reverses on the real kernel: a generated lab is built, then every operation of its plan is
reversed, last first, strictly (an error would raise) — and nothing of the lab is left."""

from __future__ import annotations

import pytest

from ..labs import random_lab

pytestmark = pytest.mark.kernel


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_generated_lab_undone_operation_by_operation_leaves_nothing(seed):
    lab = random_lab(seed, name=f"undo{seed}")
    with lab:
        backend = lab.live()
        assert len(backend.namespace_inodes()) == len(lab.topology.nodes)
        backend.apply(lab.plan().reverse())  # not the teardown's shortcut: every step, exactly undone
        assert backend.namespace_inodes() == {}
