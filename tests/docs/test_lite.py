"""Tutorial 03 in JupyterLite, for real and offline: the built site is served on 127.0.0.1, headless
Chromium (Playwright) opens the tutorial the way the site's "Run this tutorial in your browser" link does,
runs every cell in Pyodide — netnb's wheel and scapy from the site, labs on the simulation — and the page
must show the hub-vs-bridge assertion passing and the capture tables. Every request the page makes must
go to the local server: nothing from a CDN or PyPI. Prints the time from opening the page to the first
ping result."""

from __future__ import annotations

import os
import shutil
import time

import pytest

from .serve import serve

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
OUTPUTS = "[...document.querySelectorAll('.jp-Notebook .jp-OutputArea-output')].map(e => e.textContent).join('\\n')"


def test_tutorial_03_runs_to_its_last_assert_in_jupyterlite(site, tmp_path):
    playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed "
                                     "(bash scripts/setup.sh --browser)")
    if not os.path.exists(CHROMIUM):
        pytest.skip("Chromium is not installed (bash scripts/setup.sh --browser)")
    server, url = serve(site)
    elsewhere: list[str] = []
    try:
        with playwright.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                        args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                                              "--disable-component-update", "--no-first-run", "--disable-sync"])
            page = browser.new_page(viewport={"width": 1400, "height": 1800})
            page.on("request", lambda r: None if r.url.startswith((url, "data:", "blob:")) else elsewhere.append(r.url))
            try:
                opened = time.monotonic()
                page.goto(url + "lite/lab/index.html?path=03-bridge.ipynb")
                page.wait_for_function("window.jupyterapp && document.querySelectorAll('.jp-Notebook .jp-Cell').length > 10",
                                       timeout=60_000)
                page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
                page.wait_for_function(f"{OUTPUTS}.includes(' received')", timeout=180_000)
                first_ping = time.monotonic() - opened
                page.wait_for_function(
                    "(() => { const p = [...document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputArea-prompt')];"
                    " return p.length > 0 && p.every(e => /\\[\\d+\\]/.test(e.textContent)); })()"
                    f" || {OUTPUTS}.includes('Error')", timeout=180_000)
                finished = time.monotonic() - opened
                text = page.evaluate(OUTPUTS)
                tables = page.locator(".jp-Notebook .jp-OutputArea-output table").count()
                page.screenshot(path=str(tmp_path / "lite-03.png"), full_page=True)
            except Exception:
                page.screenshot(path=str(tmp_path / "lite-failure.png"), full_page=True)
                raise
            finally:
                browser.close()
    finally:
        server.shutdown()
    print(f"JupyterLite: first ping result {first_ping:.1f} s after opening the page, every cell done after "
          f"{finished:.1f} s (screenshot {tmp_path / 'lite-03.png'})")
    assert "Error" not in text and "Traceback" not in text, text[-3000:]
    assert "labs run here on the simulation" in text, text[:2000]
    assert "C saw 6 ICMP frames behind the hub, 0 behind the bridge" in text  # the hub-vs-bridge assertion passed
    assert tables >= 2 and "echo-request" in text  # the two capture tables, rendered
    assert not elsewhere, f"the page fetched from outside the site: {elsewhere[:5]}"
