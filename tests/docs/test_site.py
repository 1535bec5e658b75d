"""The documentation site builds from this tree with warnings as errors, every tutorial executed (on the
kernel backend where this machine allows labs), and docs/check_site.py finds every local link resolving
and every tutorial page showing its drawings, tables and results."""

from __future__ import annotations

import glob
import os

from .conftest import REPO


def test_the_site_builds_and_every_tutorial_page_shows_its_outputs(site):
    with open(os.path.join(os.path.dirname(site), "build.log"), encoding="utf-8") as f:
        log = f.read()  # docs/build.py ends with docs/check_site.py, as the README's command does
    assert "site OK" in log and "PROBLEM" not in log, log[-3000:]
    tutorials = sorted(glob.glob(os.path.join(REPO, "notebooks", "[0-9][0-9]-*.ipynb")))
    for path in tutorials:
        name = os.path.basename(path)[:-len(".ipynb")]
        with open(os.path.join(site, "tutorials", name + ".html"), encoding="utf-8") as f:
            page = f.read()
        assert f'href="../lite/lab/index.html?path={name}.ipynb"' in page  # "run it in your browser"
        assert "Traceback" not in page, name
    with open(os.path.join(site, "tutorials", "03-bridge.html"), encoding="utf-8") as f:
        bridge = f.read()
    assert "C saw 6 ICMP frames behind the hub, 0 behind the bridge" in bridge  # an executed output
    assert "labs run here" in bridge  # require_labs said which backend ran the build
    api = sorted(os.path.basename(p) for p in glob.glob(os.path.join(site, "api", "*.html")))
    assert "netnb.lab.html" in api and "netnb.backends.sim.backend.html" in api and len(api) >= 20
    with open(os.path.join(site, "api", "netnb.lab.html"), encoding="utf-8") as f:
        assert "netnb.lab.Lab.capture" in f.read()  # the docstrings, one entry per method
