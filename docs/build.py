"""Build netnb's documentation site: the tutorials executed with every output, the API, and JupyterLite.

    .venv/bin/python docs/build.py [--out docs/_build/html] [--no-lite] [--no-execute]

1. Sphinx (``-W``: any warning fails) with myst-nb executes each tutorial (the kernel backend where this
   machine allows labs, the simulation elsewhere) into ``OUT``.
2. JupyterLite (jupyterlite-core + jupyterlite-pyodide-kernel) into ``OUT/lite``: the tutorials, netnb's
   wheel made from this tree, and the offline Pyodide that ``scripts/setup.sh --pyodide`` made in
   ``.cache/pyodide/dist`` (so the page loads nothing from any CDN: PyPI fallback is off too).
3. ``docs/check_site.py`` checks every local link and that each tutorial page has its outputs.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)


def run(*cmd: str, cwd: str = ROOT, env: dict[str, str] | None = None) -> None:
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=cwd, env=env)


def lite(out: str, pyodide: str) -> None:
    if not os.path.exists(os.path.join(pyodide, "pyodide.mjs")):
        sys.exit(f"no offline Pyodide in {pyodide}: run bash scripts/setup.sh --docs (or --pyodide) first")
    with tempfile.TemporaryDirectory() as tmp:
        run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", tmp, ".")
        wheel = glob.glob(os.path.join(tmp, "netnb-*.whl"))[0]
        # A lite folder of this build's own: docs/lite's configuration, and the offline Pyodide where the
        # Pyodide add-on takes a local distribution from (static/pyodide).
        site = os.path.join(tmp, "lite")
        shutil.copytree(os.path.join(ROOT, "docs", "lite"), site)
        shutil.copytree(pyodide, os.path.join(site, "static", "pyodide"))
        contents = []
        os.mkdir(os.path.join(tmp, "contents"))
        for path in sorted(glob.glob(os.path.join(ROOT, "notebooks", "[0-9][0-9]-*.ipynb"))):
            with open(path, encoding="utf-8") as f:
                nb = json.load(f)  # opened by JupyterLite's Pyodide kernel, without asking which kernel
            nb["metadata"]["kernelspec"] = {"name": "python", "display_name": "Python (Pyodide)", "language": "python"}
            contents.append(os.path.join(tmp, "contents", os.path.basename(path)))
            with open(contents[-1], "w", encoding="utf-8") as f:
                json.dump(nb, f, indent=1)
        shutil.rmtree(out, ignore_errors=True)
        args = [os.path.join(BIN, "jupyter"), "lite", "build", "--lite-dir", site, "--output-dir", out,
                "--piplite-wheels", wheel, "--no-sourcemaps"]
        for path in contents:
            args += ["--contents", path]
        # (in the temporary folder: jupyterlite keeps its task database in the working directory)
        run(*args, cwd=tmp, env={**os.environ, "JUPYTERLITE_NO_LIBARCHIVE": "1"})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=os.path.join(ROOT, "docs", "_build", "html"))
    parser.add_argument("--no-lite", action="store_true", help="skip the JupyterLite build")
    parser.add_argument("--no-execute", action="store_true", help="keep the notebooks' (empty) outputs")
    parser.add_argument("--pyodide", default=os.path.join(ROOT, ".cache", "pyodide", "dist"))
    args = parser.parse_args()
    started = time.monotonic()
    extra = ["-D", "nb_execution_mode=off"] if args.no_execute else []
    run(os.path.join(BIN, "sphinx-build"), "-W", "--keep-going", "-q", "-b", "html", *extra,
        os.path.join(ROOT, "docs"), args.out)
    print(f"site built in {time.monotonic() - started:.0f} s", flush=True)
    if not args.no_lite:
        lite(os.path.join(args.out, "lite"), args.pyodide)
        print(f"JupyterLite built, {time.monotonic() - started:.0f} s in all", flush=True)
    run(sys.executable, os.path.join(ROOT, "docs", "check_site.py"), args.out,
        *(["--no-lite"] if args.no_lite else []), *(["--no-execute"] if args.no_execute else []))
    print(f"open {os.path.relpath(os.path.join(args.out, 'index.html'), os.getcwd())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
