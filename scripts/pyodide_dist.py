"""Make an offline Pyodide distribution: the npm package's core plus pure-Python wheels from PyPI.

    .venv/bin/python scripts/pyodide_dist.py CORE_DIR OUT_DIR

The npm ``pyodide`` package has the interpreter and a ``pyodide-lock.json`` naming ~350 packages whose
files live on Pyodide's CDN, which these machines (and a classroom behind a proxy) cannot reach. This
copies the core to OUT_DIR and adds, as files beside it and entries of its lock:

- the packages JupyterLite's Pyodide kernel loads from the lock (micropip, packaging, IPython and
  everything it depends on, jedi): the very versions the lock names, downloaded from PyPI by pip, each
  the lock's sha256 replaced by the file's own (Pyodide rebuilds pure wheels with their tests split
  out, so PyPI's files differ byte-wise; the integrity check must pass on what is really there);
- what netnb needs in the browser and Pyodide's lock lacks: scapy and ipywidgets with comm and
  jupyterlab_widgets, each the version installed beside this script (run it with .venv/bin/python).

Written by hand rather than with jupyterlite-pyodide-kernel's ``--pyodide-lock`` (which re-solves with
uv and fetches whatever it did not re-solve from the CDN): here every file the page loads is on disk.
Compiled packages (numpy, matplotlib, PyYAML's C part) are not on PyPI for Pyodide: they stay out, and
dependencies on them are dropped from the entries added here (netnb draws without matplotlib there).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

KERNEL_NEEDS = ["micropip", "packaging", "ipython", "jedi"]  # what the kernel's worker loads from the lock
EXTRA = {  # lock name: (distribution, depends (lock names), imports)
    "scapy": ("scapy", [], ["scapy"]),
    "comm": ("comm", ["traitlets"], ["comm"]),
    "jupyterlab-widgets": ("jupyterlab_widgets", [], ["jupyterlab_widgets"]),
    "ipywidgets": ("ipywidgets", ["comm", "ipython", "traitlets", "jupyterlab-widgets"], ["ipywidgets"]),
}


def normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def download(requirement: str, dest: Path) -> Path:
    before = set(dest.glob("*.whl"))
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                    "--ignore-requires-python", "--dest", str(dest), requirement], check=True)
    new = set(dest.glob("*.whl")) - before
    name = normal(re.split(r"[=<>~! ]", requirement)[0]).replace("-", "_")
    found = [p for p in (new or dest.glob("*.whl")) if normal(p.name.split("-")[0]).replace("-", "_") == name]
    if not found:
        raise SystemExit(f"pip found no wheel for {requirement}")
    return sorted(found)[-1]


def fetch(requirement: str, cache: Path, tmp: Path) -> Path:
    """The wheel of ``name==version`` from the cache folder, downloaded into it the first time."""
    name, version = requirement.split("==")
    for wheel in cache.glob("*.whl"):
        if normal(wheel.name.split("-")[0]) == normal(name) and wheel.name.split("-")[1] == version:
            return wheel
    got = download(requirement, tmp)
    return Path(shutil.move(got, cache / got.name))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("core", type=Path, help="the npm package's folder (node_modules/pyodide)")
    parser.add_argument("out", type=Path, help="where the distribution goes (replaced)")
    args = parser.parse_args()
    lock = json.loads((args.core / "pyodide-lock.json").read_text())
    packages = {normal(k): v for k, v in lock["packages"].items()}
    needed: list[str] = []
    todo = [normal(n) for n in KERNEL_NEEDS]
    while todo:
        name = todo.pop()
        if name in needed:
            continue
        entry = packages[name]
        if not entry["file_name"].endswith("-none-any.whl"):
            raise SystemExit(f"{name} ({entry['file_name']}) is compiled: it cannot come from PyPI")
        needed.append(name)
        todo += [normal(d) for d in entry["depends"]]
    if args.out.exists():
        shutil.rmtree(args.out)
    shutil.copytree(args.core, args.out, ignore=shutil.ignore_patterns("*.map", "node_modules", "*.html"))
    cache = args.out.parent / (args.out.name + "-wheels")
    cache.mkdir(exist_ok=True)
    rebuilt: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in sorted(needed):
            entry = packages[name]
            wheel = fetch(f"{entry['name']}=={entry['version']}", cache, Path(tmp))
            if wheel.name != entry["file_name"]:
                raise SystemExit(f"PyPI's wheel {wheel.name} is not the lock's {entry['file_name']}")
            shutil.copy(wheel, args.out / entry["file_name"])
            digest = sha256(wheel)
            if digest != entry["sha256"]:
                rebuilt.append(entry["file_name"])
                entry["sha256"] = digest
        for name, (dist, depends, imports) in EXTRA.items():
            version = metadata.version(dist)  # as installed beside this script (.venv): the same everywhere
            wheel = fetch(f"{dist}=={version}", cache, Path(tmp))
            shutil.copy(wheel, args.out / wheel.name)
            lock["packages"][name] = {"name": name, "version": version, "file_name": wheel.name, "install_dir": "site",
                                      "sha256": sha256(wheel), "package_type": "package", "imports": imports,
                                      "depends": depends, "unvendored_tests": False}
    (args.out / "pyodide-lock.json").write_text(json.dumps(lock, indent=None, sort_keys=True))
    if rebuilt:  # Pyodide rebuilds pure wheels (their tests moved out), so PyPI's files hash differently
        print(f"{len(rebuilt)} wheels are PyPI's, not Pyodide's rebuilds: their own hashes are in the lock")
    print(f"offline Pyodide in {args.out}: the core, {len(needed)} of its packages and "
          f"{len(EXTRA)} more from PyPI")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
