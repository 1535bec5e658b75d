"""The documentation site, built once per test session the way the README builds it (docs/build.py)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PYODIDE = os.path.join(REPO, ".cache", "pyodide", "dist")


@pytest.fixture(scope="session")
def site(tmp_path_factory) -> str:
    """The built site's folder (HTML, with JupyterLite in lite/); the build's output is printed and kept
    beside it in build.log."""
    for module in ("sphinx", "myst_nb", "jupyterlite_core", "jupyterlite_pyodide_kernel"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed (bash scripts/setup.sh --docs)")
    if not os.path.exists(os.path.join(PYODIDE, "pyodide.mjs")):
        pytest.skip(f"no offline Pyodide in {PYODIDE} (bash scripts/setup.sh --docs makes it)")
    out = str(tmp_path_factory.mktemp("docs") / "html")
    done = subprocess.run([sys.executable, os.path.join(REPO, "docs", "build.py"), "--out", out],
                          capture_output=True, text=True, timeout=1200)
    log = done.stdout + done.stderr
    if done.returncode != 0:
        pytest.fail(f"docs/build.py failed:\n{log[-6000:]}")
    print(log[-3000:])
    with open(os.path.join(os.path.dirname(out), "build.log"), "w", encoding="utf-8") as f:
        f.write(log)  # (tests read what the build's own check of the site said, rather than run it again)
    return out
