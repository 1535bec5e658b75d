"""Sphinx configuration of netnb's documentation site: the tutorials with every output, and the API.

Built by ``docs/build.py`` (see the README): Sphinx with myst-nb executes each tutorial notebook at build
time — on the kernel backend where this machine allows labs, on the simulation elsewhere (netnb chooses,
``NETNB_BACKEND`` overrides) — and keeps every output: drawings, tables, captures, ladders, journeys.
Chosen over Jupyter Book 2 (mystmd) because the API reference comes from the docstrings (Sphinx's autodoc;
mystmd has none) and everything needed installs from PyPI, offline from npm's registry.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

import netnb  # noqa: E402

project = "netnb"
author = "the netnb developers"
copyright = "the netnb developers"
release = version = netnb.__version__

extensions = ["myst_nb", "sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx.ext.viewcode"]
exclude_patterns = ["_build", "jupyter_execute", "lite", "**.ipynb_checkpoints"]
html_theme = "furo"
html_title = f"netnb {release}"
html_static_path: list[str] = []

# Every tutorial runs at build time; an error in any cell fails the build (with -W, as CI runs it).
nb_execution_mode = "force"
nb_execution_timeout = 300
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_execution_in_temp = True  # a tutorial that writes a .pcapng writes it in a temporary folder
nb_merge_streams = True
myst_enable_extensions = ["colon_fence"]
suppress_warnings = ["mystnb.unknown_mime_type"]  # ipywidgets' state: the widget needs a kernel to run

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "undoc-members": False, "show-inheritance": True}

# The public modules, one API page each (written into api/ at build time).
API_MODULES = {
    "netnb": "The curated top level: ``import netnb`` gives these names.",
    "netnb.lab": "Describing, starting and looking at a lab.",
    "netnb.nodes": "Hosts, routers, switches and the processes they run.",
    "netnb.machines": "VMs on TAP devices and the outside world.",
    "netnb.environment": "What this machine allows, and which backend runs.",
    "netnb.errors": "One exception tree, rooted at NetnbError.",
    "netnb.plan": "A lab as ordered operations with exact reverses (the dry run).",
    "netnb.model": "Pure data: topology, validation, read-back records (the names below are defined in the "
                   "pages that follow).",
    "netnb.model.topology": "A lab's description: nodes, links, addresses, routes.",
    "netnb.model.state": "What is read back from a running lab: interfaces, routes, neighbours, results.",
    "netnb.model.firewall": "Firewall rules and chains as data.",
    "netnb.capture.capture": "Capturing at any point of a lab.",
    "netnb.capture.packets": "What was captured: tables, filters, pcapng, ladders, journeys.",
    "netnb.capture.journey": "One packet's journey, hop by hop.",
    "netnb.capture.filters": "tcpdump filter expressions without libpcap.",
    "netnb.view.picture": "Pictures that show themselves.",
    "netnb.view.table": "Tables that show themselves.",
    "netnb.view.routing": "Every router's routes by protocol: the table and the drawing of lab.routing().",
    "netnb.view.widget": "The interactive lab view.",
    "netnb.docker": "Docker's networking, built on a lab.",
    "netnb.backends.contract": "The contract every backend implements.",
    "netnb.backends.sim.backend": "The simulated backend (pure Python; runs in the browser).",
    "netnb.vm": "The VM guest: a program that is a computer on a TAP device.",
    "netnb.labfile": "Labs in YAML files.",
    "netnb.importers": "Labs of other tools: netnb.load().",
    "netnb.importers.kathara": "Kathará lab folders.",
    "netnb.importers.containerlab": "containerlab topologies.",
    "netnb.importers.mininet": "Mininet topologies: the Topo shim.",
    "netnb.model.frr": "FRR routing daemons as a node's files.",
}


def _tutorials() -> list[str]:
    """Copy notebooks/NN-*.ipynb into tutorials/, each with a link to run it in the browser."""
    out = HERE / "tutorials"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    names = []
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb")):
        nb = json.loads(path.read_text())
        cells = nb["cells"]
        title = next(i for i, c in enumerate(cells) if c["cell_type"] == "markdown")
        cells.insert(title + 1, {"cell_type": "markdown", "metadata": {}, "id": "netnb-run-in-browser", "source": [
            f'<p class="netnb-run">▶ <a href="../lite/lab/index.html?path={path.name}"><b>Run this tutorial in '
            "your browser</b></a> — JupyterLite, nothing to install: the labs run on netnb's simulation there. "
            "The outputs below were made when this site was built (the first code cell's line says on which "
            "backend).</p>"]})
        for cell in cells:  # the set-up cell does nothing here: shown, but folded away
            if "netnb-setup" in cell.get("metadata", {}).get("tags", []):
                cell["metadata"]["tags"] = ["netnb-setup", "hide-input"]
        (out / path.name).write_text(json.dumps(nb, indent=1))
        names.append(path.stem)
    return names


def _api_pages() -> None:
    """One page per module. A package that re-exports (``netnb``, ``netnb.model``) documents only its own
    names; the top level lists its curated names, each linked to where it is documented."""
    out = HERE / "api"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    for module, summary in API_MODULES.items():
        options = "   :no-members:\n" if module == "netnb" else \
            ("   :ignore-module-all:\n" if module == "netnb.model" else "")
        body = f"# `{module}`\n\n{summary}\n\n```{{eval-rst}}\n.. automodule:: {module}\n{options}```\n"
        if module == "netnb":
            rows = []
            for name in netnb.__all__:
                obj = getattr(netnb, name)
                where = getattr(obj, "__module__", "netnb")
                rows.append(f"- {{py:obj}}`{name} <{where}.{getattr(obj, '__qualname__', name)}>`")
            body += "\n## Names\n\n" + "\n".join(rows) + "\n"
        # (autodoc writes reST: inside a MyST page it goes through eval-rst)
        (out / f"{module}.md").write_text(body)


TUTORIALS = _tutorials()
_api_pages()
os.environ.setdefault("MPLBACKEND", "Agg")
