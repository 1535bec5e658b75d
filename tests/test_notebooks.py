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
