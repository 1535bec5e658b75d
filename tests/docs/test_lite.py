"""Tutorial 03 in JupyterLite, for real and offline: the built site is served on 127.0.0.1, headless
Chromium (Playwright) opens the tutorial the way the site's "Run this tutorial in your browser" link does,
runs every cell in Pyodide — netnb's wheel and scapy from the site, labs on the simulation — and the page
must show the hub-vs-bridge assertion passing and the capture tables. Every request the page makes must
go to the local server: nothing from a CDN or PyPI. Prints the time from opening the page to the first
ping result."""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .serve import serve

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run", "--disable-sync"]
OUTPUTS = "[...document.querySelectorAll('.jp-Notebook .jp-OutputArea-output')].map(e => e.textContent).join('\\n')"


@contextlib.contextmanager
def browser_page(site: str, shot: Path) -> Iterator[tuple[Any, str, list[str]]]:
    """A Chromium page on the site served at 127.0.0.1: yields (page, the site's URL, the URLs the page asked
    for elsewhere); a screenshot lands at ``shot`` (``*-failure.png`` beside it if the block raised)."""
    playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed "
                                     "(bash scripts/setup.sh --browser)")
    if not os.path.exists(CHROMIUM):
        pytest.skip("Chromium is not installed (bash scripts/setup.sh --browser)")
    server, url = serve(site)
    elsewhere: list[str] = []
    try:
        with playwright.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1800})
            page.on("request", lambda r: None if r.url.startswith((url, "data:", "blob:")) else elsewhere.append(r.url))
            try:
                yield page, url, elsewhere
                page.screenshot(path=str(shot), full_page=True)
            except Exception:
                page.screenshot(path=str(shot.with_name(shot.stem + "-failure.png")), full_page=True)
                raise
            finally:
                browser.close()
    finally:
        server.shutdown()


KERNEL_IDLE = ("(() => { const w = window.jupyterapp.shell.currentWidget; const k = w && w.sessionContext && "
               "w.sessionContext.session && w.sessionContext.session.kernel; return !!k && k.status === 'idle'; })()")


def wait_for_the_kernel(page: Any) -> None:
    """Until the open notebook's kernel is up and idle: asked to run cells while its session is still
    starting, JupyterLab passes over them and nothing runs (seen in CI, not on a quicker run)."""
    page.evaluate("async () => { await window.jupyterapp.restored; }")
    # the notebook becomes the current widget a moment after the app is restored (later on a loaded machine)
    page.wait_for_function("(() => { const w = window.jupyterapp.shell.currentWidget; "
                           "return !!(w && w.sessionContext); })()", timeout=120_000)
    page.evaluate("async () => { await window.jupyterapp.shell.currentWidget.sessionContext.ready; }")
    page.wait_for_function(KERNEL_IDLE, timeout=120_000)


def test_tutorial_03_runs_to_its_last_assert_in_jupyterlite(site, tmp_path):
    with browser_page(site, tmp_path / "lite-03.png") as (page, url, elsewhere):
        opened = time.monotonic()
        page.goto(url + "lite/lab/index.html?path=03-bridge.ipynb")
        page.wait_for_function("window.jupyterapp && document.querySelectorAll('.jp-Notebook .jp-Cell').length > 10",
                               timeout=60_000)
        shown = time.monotonic() - opened
        wait_for_the_kernel(page)
        page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
        page.wait_for_function(f"{OUTPUTS}.includes('labs run here')", timeout=180_000)
        imported = time.monotonic() - opened  # Pyodide, IPython, netnb's install and import
        page.wait_for_function(f"{OUTPUTS}.includes(' received')", timeout=180_000)
        first_ping = time.monotonic() - opened
        page.wait_for_function(
            "(() => { const p = [...document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputArea-prompt')];"
            " return p.length > 0 && p.every(e => /\\[\\d+\\]/.test(e.textContent)); })()"
            f" || {OUTPUTS}.includes('Error')", timeout=180_000)
        finished = time.monotonic() - opened
        text = page.evaluate(OUTPUTS)
        tables = page.locator(".jp-Notebook .jp-OutputArea-output table").count()
        drawings = page.locator(".jp-Notebook .jp-OutputArea-output svg").count()
    print(f"JupyterLite, seconds after opening the page: notebook shown {shown:.1f}, netnb imported (Pyodide, "
          f"IPython, netnb's install) {imported:.1f}, first ping result {first_ping:.1f}, every cell done "
          f"{finished:.1f} (screenshot {tmp_path / 'lite-03.png'})")
    assert "Error" not in text and "Traceback" not in text, text[-3000:]
    assert "labs run here on the simulation" in text, text[:2000]
    assert "C saw 6 ICMP frames behind the hub, 0 behind the bridge" in text  # the hub-vs-bridge assertion passed
    assert tables >= 2 and "echo-request" in text  # the two capture tables, rendered
    assert drawings >= 1  # the hub lab's drawing: plain SVG, as there is no matplotlib in the page
    print("not covered in the browser: matplotlib's PNG drawings (Pyodide's matplotlib comes from its CDN on a "
          "real deployment, which this offline test cannot reach); the plain-SVG path draws instead")
    assert not elsewhere, f"the page fetched from outside the site: {elsewhere[:5]}"


WIDGET_NOTEBOOK = {
    "nbformat": 4, "nbformat_minor": 5,
    "metadata": {"kernelspec": {"name": "python", "display_name": "Python (Pyodide)", "language": "python"}},
    "cells": [
        {"cell_type": "code", "id": "build", "metadata": {}, "outputs": [], "execution_count": None, "source":
            'import piplite\nawait piplite.install("netnb")\nimport netnb\n'
            'lab = netnb.Lab("clicks")\na, b, c = lab.host("A"), lab.host("B"), lab.host("C")\nsw = lab.switch("sw")\n'
            'for i, h in enumerate((a, b, c)):\n    lab.link(h, sw, ip=f"10.0.0.{i + 1}/24")\n'
            'lab.start()\nlab.widget()'},
        {"cell_type": "code", "id": "ping", "metadata": {}, "outputs": [], "execution_count": None,
         "source": "a.ping(b, count=2)"},
    ],
}


def test_the_lab_widget_works_in_jupyterlite(site, tmp_path):
    """In Pyodide (no threads) the widget's buttons work and its capture table fills from the page's event
    loop while no cell runs: click a node, start a capture there, ping from a cell, see the packets."""
    with browser_page(site, tmp_path / "lite-widget.png") as (page, url, elsewhere):
        page.goto(url + "lite/lab/index.html")
        page.wait_for_function("window.jupyterapp && window.jupyterapp.serviceManager", timeout=60_000)
        page.evaluate("nb => window.jupyterapp.serviceManager.contents.save('clicks.ipynb', "
                      "{type: 'notebook', format: 'json', content: nb})", WIDGET_NOTEBOOK)
        # (once the app has restored its layout: opened earlier, the launcher would take the place)
        page.evaluate("async () => { await window.jupyterapp.restored;"
                      " await window.jupyterapp.commands.execute('docmanager:open', {path: 'clicks.ipynb'}); }")
        page.wait_for_selector(".jp-Notebook .jp-CodeCell", timeout=60_000)
        wait_for_the_kernel(page)
        page.locator(".jp-Notebook .jp-CodeCell").first.click()
        page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-cell'); }")
        widget = page.locator(".jp-Notebook .jupyter-widgets.widget-vbox").first
        widget.wait_for(timeout=180_000)
        page.locator(".widget-toggle-button", has_text="sw").first.click()
        page.wait_for_function("document.body.textContent.includes('A-eth0')", timeout=30_000)  # sw's ports
        page.locator("button", has_text="start capture").first.click()
        page.wait_for_function("document.body.textContent.includes('capturing at')", timeout=30_000)
        page.locator(".jp-Notebook .jp-CodeCell").nth(1).click()
        page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-cell'); }")
        # the table fills while no cell runs: refreshed by asyncio's call_later on the page's loop
        page.wait_for_function("[...document.querySelectorAll('.jupyter-widgets table')]"
                               ".some(t => t.textContent.includes('echo-request'))", timeout=60_000)
        page.locator("button", has_text="stop").first.click()
        page.wait_for_function("document.body.textContent.includes('stopped:')", timeout=30_000)
        status = page.locator(".jupyter-widgets", has_text="stopped:").last.text_content()
        drawn = page.locator(".jupyter-widgets img").count()
    assert "stopped:" in (status or "") and "0 dropped" in (status or ""), status
    assert drawn >= 1  # the drawing (SVG) in the widget
    assert not elsewhere, f"the page fetched from outside the site: {elsewhere[:5]}"
