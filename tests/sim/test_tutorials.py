"""Every tutorial runs on the simulation, with every assert passing, in an interpreter that an audit hook
keeps from making namespaces, opening netlink or packet sockets, or starting processes."""

from __future__ import annotations

import glob
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
RUNNER = os.path.join(HERE, "run_notebook.py")
TUTORIALS = sorted(glob.glob(os.path.join(REPO, "notebooks", "[0-9][0-9]-*.py")))


def _run(path: str, *extra: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, NETNB_BACKEND="sim", PYTHONPATH=REPO)
    return subprocess.run([sys.executable, RUNNER, path, *extra], capture_output=True, text=True, env=env,
                          timeout=300, cwd=REPO)


@pytest.mark.parametrize("path", TUTORIALS, ids=os.path.basename)
def test_tutorial_runs_on_the_simulation(path):
    done = _run(path)
    assert done.returncode == 0, done.stderr[-4000:]
    assert "with no namespace, netlink or packet socket, or process" in done.stdout


def test_the_exercise_passes_solved_on_the_simulation():
    done = _run(os.path.join(REPO, "notebooks", "07-exercise.py"), "--solve")
    assert done.returncode == 0, done.stderr[-4000:]
    assert done.stdout.count("PASS") == 3 and "3/3 fixed" in done.stdout


def test_the_audit_hook_refuses_a_kernel_lab(tmp_path):
    """The hook is real: the same runner refuses a lab that asks for the kernel."""
    notebook = tmp_path / "kernel.py"
    notebook.write_text('# %%\nimport netnb\nlab = netnb.Lab("k", backend="kernel")\nlab.host("A")\nlab.start()\n')
    done = _run(str(notebook))
    assert done.returncode == 1
    assert "the simulation may not use" in done.stderr
