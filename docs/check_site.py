"""Check a built documentation site: every local link resolves, and every tutorial page shows its outputs.

    .venv/bin/python docs/check_site.py docs/_build/html [--no-lite] [--no-execute]

- Links: every ``href``/``src`` of every page (the API and tutorial pages, not JupyterLite's own bundle)
  that points into the site must name a file that exists, and a ``#fragment`` an id on that page. Links
  to other sites are listed, not fetched: the build machine reaches no site but package registries.
- Tutorials: each page is compared with its notebook as myst-nb executed it (``../jupyter_execute``):
  no cell may have failed; every picture output (drawing, ladder) must be an ``<img>`` of an existing
  file; every table output and every netnb box (ping, command, lab with its drawing) must be on the page.
- JupyterLite (unless ``--no-lite``): each tutorial, netnb's wheel, and a local Pyodide with its lock, and
  the configuration that forbids falling back to PyPI or a CDN.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys
from html.parser import HTMLParser
from urllib.parse import unquote, urlsplit


class Page(HTMLParser):
    """The links, ids, images and tables of one HTML page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self.ids: set[str] = set()
        self.images: list[str] = []
        self.tables = 0
        self.boxes = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "a" and "href" in a:
            self.links.append(a["href"])
        if tag in ("img", "script") and "src" in a:
            self.links.append(a["src"])
            if tag == "img":
                self.images.append(a["src"])
        if tag == "link" and "href" in a:
            self.links.append(a["href"])
        if tag == "table":
            self.tables += 1
        if tag == "div" and "netnb" in a.get("class", "").split():
            self.boxes += 1


def parse(path: str) -> Page:
    page = Page()
    with open(path, encoding="utf-8") as f:
        page.feed(f.read())
    return page


def check_links(out: str) -> tuple[list[str], set[str]]:
    problems, external = [], set()
    pages = [p for p in glob.glob(os.path.join(out, "**", "*.html"), recursive=True)
             if not os.path.relpath(p, out).startswith(("lite" + os.sep, "_modules" + os.sep))]
    parsed = {os.path.abspath(p): parse(p) for p in pages}
    for path, page in parsed.items():
        for link in page.links:
            parts = urlsplit(link)
            if parts.scheme in ("http", "https", "mailto", "data"):
                external.add(link)
                continue
            target = os.path.abspath(os.path.join(os.path.dirname(path), unquote(parts.path))) if parts.path else path
            if os.path.isdir(target):
                target = os.path.join(target, "index.html")
            where = os.path.relpath(path, out)
            if not os.path.exists(target):
                problems.append(f"{where}: {link} points to nothing")
            elif parts.fragment and target.endswith(".html"):
                ids = parsed[target].ids if target in parsed else parse(target).ids
                if parts.fragment not in ids:
                    problems.append(f"{where}: {link}: no id {parts.fragment!r} there")
    return problems, external


def check_tutorials(out: str, executed: bool) -> list[str]:
    problems = []
    notebooks = sorted(glob.glob(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                              "notebooks", "[0-9][0-9]-*.ipynb")))
    if not notebooks:
        return ["no tutorials found in notebooks/"]
    for source in notebooks:
        name = os.path.basename(source)[:-len(".ipynb")]
        html = os.path.join(out, "tutorials", name + ".html")
        if not os.path.exists(html):
            problems.append(f"tutorials/{name}.html is missing")
            continue
        page = parse(html)
        if not executed:
            continue
        run = os.path.join(os.path.dirname(os.path.abspath(out)), "jupyter_execute", "tutorials", name + ".ipynb")
        if not os.path.exists(run):
            problems.append(f"{name}: myst-nb left no executed notebook at {run}")
            continue
        with open(run, encoding="utf-8") as f:
            cells = json.load(f)["cells"]
        outputs = [o for c in cells if c["cell_type"] == "code" for o in c.get("outputs", [])]
        if not outputs:
            problems.append(f"{name}: executed, but no cell has an output")
        errors = [o for o in outputs if o["output_type"] == "error"]
        if errors:
            problems.append(f"{name}: {len(errors)} cell(s) failed: {errors[0].get('ename')}: {errors[0].get('evalue')}")
        data = [o.get("data", {}) for o in outputs if o["output_type"] in ("display_data", "execute_result")]
        pictures = sum(1 for d in data if "text/html" not in d and ("image/svg+xml" in d or "image/png" in d))
        html_out = [d["text/html"] for d in data if "text/html" in d]
        html_out = ["".join(h) if isinstance(h, list) else h for h in html_out]
        tables = sum(h.count("<table") for h in html_out)
        boxes = sum(h.count('<div class="netnb"') for h in html_out)
        shown = [src for src in page.images if "_images/" in src
                 and os.path.exists(os.path.join(os.path.dirname(html), unquote(urlsplit(src).path)))]
        if len(shown) < pictures:
            problems.append(f"{name}: {pictures} pictures were drawn, the page shows {len(shown)}")
        if page.tables < tables:
            problems.append(f"{name}: {tables} tables were output, the page has {page.tables}")
        if page.boxes < boxes:
            problems.append(f"{name}: {boxes} netnb outputs (results, labs), the page has {page.boxes}")
        print(f"  {name}: {len(outputs)} outputs; {len(shown)} pictures, {page.tables} tables, "
              f"{page.boxes} results on the page")
    return problems


def check_lite(out: str) -> list[str]:
    lite = os.path.join(out, "lite")
    problems = []
    for name in sorted(glob.glob(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                              "notebooks", "[0-9][0-9]-*.ipynb"))):
        if not os.path.exists(os.path.join(lite, "files", os.path.basename(name))):
            problems.append(f"lite/files/{os.path.basename(name)} is missing")
    for need in ("lab/index.html", "static/pyodide/pyodide.mjs", "static/pyodide/pyodide-lock.json"):
        if not os.path.exists(os.path.join(lite, need)):
            problems.append(f"lite/{need} is missing")
    wheels = glob.glob(os.path.join(lite, "**", "netnb-*.whl"), recursive=True)
    if not wheels:
        problems.append("lite: netnb's wheel is missing")
    with open(os.path.join(lite, "jupyter-lite.json"), encoding="utf-8") as f:
        config = json.load(f)["jupyter-config-data"]
    kernel = config.get("litePluginSettings", {}).get("@jupyterlite/pyodide-kernel-extension:kernel", {})
    if not kernel.get("disablePyPIFallback"):
        problems.append("lite: PyPI fallback is on (the page would fetch from PyPI)")
    if not str(kernel.get("pyodideUrl", "")).startswith("./"):
        problems.append(f"lite: Pyodide comes from {kernel.get('pyodideUrl')!r}, not from the site")
    if os.path.exists(os.path.join(lite, "static", "pyodide", "pyodide-lock.json")):
        with open(os.path.join(lite, "static", "pyodide", "pyodide-lock.json"), encoding="utf-8") as f:
            lock = json.load(f)["packages"]
        for name in ("scapy", "ipywidgets", "ipython", "micropip"):
            entry = lock.get(name)
            if entry is None or not os.path.exists(os.path.join(lite, "static", "pyodide", entry["file_name"])):
                problems.append(f"lite: the offline Pyodide has no {name}")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out")
    parser.add_argument("--no-lite", action="store_true")
    parser.add_argument("--no-execute", action="store_true")
    args = parser.parse_args()
    problems, external = check_links(args.out)
    problems += check_tutorials(args.out, not args.no_execute)
    if not args.no_lite:
        problems += check_lite(args.out)
    print(f"{len(external)} links to other sites, not fetched (no network but package registries here)")
    for p in problems:
        print("PROBLEM:", p)
    print("site OK" if not problems else f"{len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
