"""Where the tutorials open: each notebook's Colab and Binder links and its set-up cell come from
pyproject.toml's Source URL (scripts/notebook_links.py writes them), and Binder's environment has every
dependency netnb declares."""

from __future__ import annotations

import glob
import importlib.util
import os
import re
import tomllib

import jupytext

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _links_module():
    spec = importlib.util.spec_from_file_location("notebook_links", os.path.join(ROOT, "scripts", "notebook_links.py"))
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_notebook_has_its_links_and_set_up_cell_as_the_script_writes_them():
    links = _links_module()
    url = links.source_url()
    paths = sorted(glob.glob(os.path.join(ROOT, "notebooks", "[0-9][0-9]-*.py")))
    assert len(paths) == 8
    for path in paths:
        name = os.path.basename(path)[:-3]
        with open(path, encoding="utf-8") as f:
            text = f.read()
        assert links.rewrite(text, name, url) == text, f"run: python scripts/notebook_links.py ({name})"
        nb = jupytext.reads(text, fmt="py:percent")
        assert f"colab.research.google.com/github/{url.removeprefix('https://github.com/')}/blob/main/notebooks/{name}.ipynb" \
            in nb.cells[0].source
        assert f"mybinder.org/v2/gh/{url.removeprefix('https://github.com/')}/main?labpath=notebooks/{name}.ipynb" \
            in nb.cells[0].source
        setup = next(c for c in nb.cells if c.cell_type == "code")
        assert "netnb-setup" in setup.metadata.get("tags", [])
        assert 'await piplite.install("netnb")' in setup.source and f"netnb @ git+{url}" in setup.source
        first_import = next(c for c in nb.cells if c.cell_type == "code" and "import netnb" in c.source)
        assert "require_labs(" in first_import.source  # says which backend runs, in one line


def test_binder_has_every_dependency_netnb_declares():
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        declared = tomllib.load(f)["project"]["dependencies"]
    with open(os.path.join(ROOT, "binder", "requirements.txt"), encoding="utf-8") as f:
        binder = {re.split(r"[<>=!~;\s]", line.strip())[0].lower() for line in f if line.strip() and not line.startswith("#")}
    for requirement in declared:
        name = re.split(r"[<>=!~;\s]", requirement)[0].lower()
        assert name in binder, f"binder/requirements.txt lacks {name}"
    with open(os.path.join(ROOT, "binder", "postBuild"), encoding="utf-8") as f:
        assert "pip install --no-deps -e ." in f.read()
