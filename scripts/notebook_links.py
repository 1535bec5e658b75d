"""Write each tutorial's "open in Colab / Binder" links and its set-up cell from pyproject.toml's Source URL.

    .venv/bin/python scripts/notebook_links.py        # rewrites notebooks/NN-*.py, then: jupytext --sync

The links sit on the line after the title; the set-up cell is the first code cell. On the kernel and in
the tests it does nothing but ``import netnb``; in JupyterLite it installs netnb's wheel from the page
(``piplite``), on Colab from the repository, as nothing there has netnb yet.
"""

from __future__ import annotations

import glob
import os
import re
import sys
import tomllib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def source_url() -> str:
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        return str(tomllib.load(f)["project"]["urls"]["Source"]).rstrip("/")


def links(name: str, url: str) -> str:
    """The badge line for notebook ``name`` (e.g. ``03-bridge``)."""
    slug = url.removeprefix("https://github.com/")
    return (f"# [Open in Colab](https://colab.research.google.com/github/{slug}/blob/main/notebooks/{name}.ipynb)"
            f" · [Open in Binder](https://mybinder.org/v2/gh/{slug}/main?labpath=notebooks/{name}.ipynb)"
            " · or in your browser from the documentation site, nothing to install")


def setup_cell(url: str) -> str:
    return f'''# %% tags=["netnb-setup"]
import importlib.util
import sys

if sys.platform == "emscripten":  # JupyterLite: netnb's wheel (and scapy's) come with the page
    import piplite

    await piplite.install("netnb")
elif "google.colab" in sys.modules and importlib.util.find_spec("netnb") is None:  # Colab: from its repository
    import subprocess

    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "netnb @ git+{url}"], check=True)
'''


def rewrite(text: str, name: str, url: str) -> str:
    text = re.sub(r"\n# %% tags=\[\"netnb-setup\"\]\n.*?(?=\n# %%)", "", text, flags=re.S)  # (once written)
    text = re.sub(r"^# \[Open in Colab\].*\n", "", text, flags=re.M)
    title = re.search(r"^# # .*\n", text, flags=re.M)
    assert title, f"{name}: no '# # Title' line"
    text = text[:title.end()] + links(name, url) + "\n" + text[title.end():]
    first_code = re.search(r"^# %%\n", text, flags=re.M)
    assert first_code, f"{name}: no code cell"
    return text[:first_code.start()] + setup_cell(url) + "\n" + text[first_code.start():]


def main() -> int:
    url = source_url()
    for path in sorted(glob.glob(os.path.join(ROOT, "notebooks", "[0-9][0-9]-*.py"))):
        name = os.path.basename(path)[:-3]
        with open(path, encoding="utf-8") as f:
            old = f.read()
        new = rewrite(old, name, url)
        if new != old:
            with open(path, "w", encoding="utf-8") as f:
                f.write(new)
            print(f"rewrote {os.path.relpath(path, ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
