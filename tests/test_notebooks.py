"""The tutorials are tests: every notebook runs top to bottom on the real kernel, and its .ipynb is the
jupytext pair of its reviewed .py source (no outputs committed)."""

from __future__ import annotations

import glob
import os
import time

import jupytext
import nbformat
import pytest

from .conftest import kernel_available

HERE = os.path.dirname(os.path.abspath(__file__))
NOTEBOOKS = sorted(glob.glob(os.path.join(os.path.dirname(HERE), "notebooks", "[0-9][0-9]-*.ipynb")))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=os.path.basename)
def test_ipynb_is_the_pair_of_its_source_without_outputs(path):
    source = jupytext.read(path[:-len(".ipynb")] + ".py")
    paired = nbformat.read(path, as_version=4)
    assert [c.source for c in paired.cells] == [c.source for c in source.cells], \
        f"run: jupytext --sync {path[:-len('.ipynb')]}.py"
    assert all(not c.get("outputs") for c in paired.cells if c.cell_type == "code")


@pytest.mark.kernel
@pytest.mark.parametrize("path", NOTEBOOKS, ids=os.path.basename)
def test_notebook_runs_top_to_bottom(path, tmp_path, this_python_kernel):
    reason = kernel_available()
    if reason:
        pytest.skip(reason)
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    solve = "exercise" in path
    if solve:  # run the exercise solved: every check must then say PASS (the unsolved run is below)
        for cell in nb.cells:
            cell.source = cell.source.replace("SOLVE = False", "SOLVE = True")
    started = time.monotonic()
    NotebookClient(nb, timeout=120, kernel_name=this_python_kernel,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    took = time.monotonic() - started
    print(f"{os.path.basename(path)}: {took:.1f} s")
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    if solve:
        text = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
        assert text.count("PASS") == 3 and "FAIL" not in text and "3/3 fixed" in text


@pytest.mark.kernel
def test_the_exercise_fails_until_it_is_fixed(tmp_path, this_python_kernel):
    reason = kernel_available()
    if reason:
        pytest.skip(reason)
    from nbclient import NotebookClient

    path = next(p for p in NOTEBOOKS if "exercise" in p)
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=120, kernel_name=this_python_kernel,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    text = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    assert text.count("FAIL") == 3 and "hint:" in text and "0/3 fixed" in text


@pytest.mark.kernel
def test_a_failing_cell_leaves_nothing_behind(tmp_path, this_python_kernel):
    """A notebook that dies half-way (a cell raises after the lab started) leaves no namespace behind."""
    reason = kernel_available()
    if reason:
        pytest.skip(reason)
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    from .kernel.helpers import netns_inodes_in_use, wait_until

    before = netns_inodes_in_use()
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("import netnb\nlab = netnb.Lab('dies')\na, b = lab.host('A'), lab.host('B')\n"
                                  "lab.link(a, b, ip=('10.0.0.1/24', '10.0.0.2/24'))\nlab.start()\n"
                                  "print(len(lab.namespace_inodes()))"),
        nbformat.v4.new_code_cell("raise RuntimeError('a student typo')"),
        nbformat.v4.new_code_cell("lab.stop()"),
    ])
    client = NotebookClient(nb, timeout=60, kernel_name=this_python_kernel,
                            resources={"metadata": {"path": str(tmp_path)}})
    with pytest.raises(CellExecutionError):
        client.execute()
    assert nb.cells[0].outputs[0]["text"].strip() == "2"
    assert wait_until(lambda: netns_inodes_in_use() <= before, timeout=10)


def test_labs_unavailable_reads_as_a_message_not_a_traceback():
    from netnb.environment import Environment, LabsUnavailable

    err = LabsUnavailable("netnb cannot build labs here: no root.\nRun the tutorials on Linux ...")
    assert err._render_traceback_() == [str(err)]
    env = Environment(False, "none", "no root")
    assert "cannot build labs here: no root" in env._repr_mimebundle_()["text/plain"]
