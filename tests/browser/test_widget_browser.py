"""The lab widget in a real browser: headless Chromium opens JupyterLab, runs a notebook that shows the
widget, clicks a node and the capture button, and the packet table fills while traffic flows.

Needs Debian's chromium, JupyterLab and Playwright (installed by scripts/setup.sh --browser, which
.ci/run calls); skipped with the reason otherwise.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from ..conftest import kernel_available

pytestmark = [pytest.mark.kernel, pytest.mark.browser]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CELLS = [
    "import netnb\nlab = netnb.Lab('browser')\na, b, c = lab.host('A'), lab.host('B'), lab.host('C')\n"
    "sw = lab.switch('sw')\nfor i, h in enumerate((a, b, c)):\n    lab.link(h, sw, ip=f'10.0.0.{i + 1}/24')\n"
    "lab.start()\nw = lab.widget()\nw",
    "a.ping(b, count=4, interval=0.3)  # paced, so the table refreshes while packets arrive\nprint('pinged')",
    "lab.draw()",                  # a picture, with no %matplotlib: its SVG shows
    "a.run('ip -br addr')",         # command output as a terminal shows it
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _notebook(path: str) -> None:
    nb = {"nbformat": 4, "nbformat_minor": 5, "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                                          "language": "python"}},
          "cells": [{"cell_type": "code", "metadata": {}, "source": src, "outputs": [], "execution_count": None,
                     "id": f"c{i}"} for i, src in enumerate(CELLS)]}
    with open(path, "w") as f:
        json.dump(nb, f)


@pytest.fixture(params=["lab", "notebook"])
def jupyter(request, tmp_path, this_python_kernel):
    reason = kernel_available()
    if reason:
        pytest.skip(reason)
    app = request.param
    pytest.importorskip("jupyterlab" if app == "lab" else "notebook",
                        reason="pip install -e '.[browser]' (scripts/setup.sh --browser)")
    pytest.importorskip("playwright", reason="pip install -e '.[browser]' (scripts/setup.sh --browser)")
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian's chromium is not installed (scripts/setup.sh --browser)")
    _notebook(str(tmp_path / "widget.ipynb"))
    port, token = _free_port(), secrets.token_hex(16)
    log = open(tmp_path / "jupyter.log", "w")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter", app, "--no-browser", "--allow-root", f"--port={port}",
         "--ip=127.0.0.1", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={tmp_path}"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=1)
            break
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                raise RuntimeError((tmp_path / "jupyter.log").read_text()[-2000:]) from None
            time.sleep(0.2)
    yield base, token, tmp_path, app
    os.killpg(server.pid, signal.SIGTERM)  # the server we started, its kernels (and so their labs) with it
    try:
        server.wait(15)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
    log.close()


def test_widget_click_and_live_capture_in_jupyterlab_and_notebook7(jupyter):
    from playwright.sync_api import sync_playwright

    base, token, folder, app = jupyter
    shot = folder / f"widget-{app}.png"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                                          "--disable-component-update", "--no-first-run", "--disable-sync"])
        page = browser.new_page(viewport={"width": 1400, "height": 1800})
        try:
            status = _drive(page, base, token, shot, app)
        except Exception as exc:
            page.screenshot(path=str(folder / "failure.png"), full_page=True)
            keep = os.environ.get("NETNB_SCREENSHOT_DIR")
            if keep:
                shutil.copy(folder / "failure.png", os.path.join(keep, f"widget-failure-{app}.png"))
            raise AssertionError(f"{exc}\n--- page text ---\n{page.inner_text('body')[:3000]}") from exc
        finally:
            browser.close()
    assert "0 dropped" in status and int(status.split("stopped: ")[1].split()[0]) >= 2
    assert shot.stat().st_size > 20_000
    keep = os.environ.get("NETNB_SCREENSHOT_DIR")
    if keep:
        shutil.copy(shot, os.path.join(keep, f"widget-in-{app}.png"))


def _kernel_idle(base: str, token: str) -> bool:
    with urllib.request.urlopen(f"{base}/api/sessions?token={token}", timeout=5) as r:
        sessions = json.load(r)
    return bool(sessions) and all(s["kernel"]["execution_state"] == "idle" for s in sessions)


def _drive(page, base: str, token: str, shot, app: str) -> str:
    """Open the notebook, run it, click node B and the capture buttons; returns the final status line."""
    path = "lab/tree" if app == "lab" else "notebooks"
    page.goto(f"{base}/{path}/widget.ipynb?token={token}")
    page.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=60_000)
    deadline = time.monotonic() + 60
    while not _kernel_idle(base, token):                                # the kernel is up (polled)
        assert time.monotonic() < deadline, "the kernel did not start"
        time.sleep(0.2)
    # (a cell run before the page has connected to the kernel is queued, and its output waited for below)
    page.locator(".jp-Notebook .jp-Cell .jp-InputArea-editor").first.click()
    page.keyboard.press("Shift+Enter")                                  # build the lab, show the widget
    node_b = page.locator(".jp-OutputArea button", has_text="B").first
    node_b.wait_for(timeout=60_000)
    image = page.locator(".widget-image").first
    image.wait_for(timeout=30_000)
    assert page.evaluate("el => el.naturalWidth", image.element_handle()) > 100   # the drawing is there
    node_b.click()                                                      # click a node
    page.get_by_text("10.0.0.2/24").first.wait_for(timeout=30_000)       # its details appear
    page.get_by_role("button", name="start capture").click()
    page.get_by_text("capturing at").wait_for(timeout=30_000)
    page.locator(".jp-Notebook .jp-Cell .jp-InputArea-editor").nth(1).click()
    page.keyboard.press("Shift+Enter")                                  # the next cell pings while we watch
    page.get_by_text("echo-request").first.wait_for(timeout=60_000)     # the table filled while capturing
    page.get_by_role("button", name="stop").click()
    page.get_by_text("stopped:").wait_for(timeout=30_000)
    for i in (2, 3):
        page.locator(".jp-Notebook .jp-Cell .jp-InputArea-editor").nth(i).click()
        page.keyboard.press("Shift+Enter")
    drawing = page.locator(".jp-Notebook .jp-Cell").nth(2).locator(".jp-RenderedSVG img, .jp-RenderedSVG svg, .jp-RenderedImage img")
    drawing.first.wait_for(timeout=60_000)                              # the drawing, not "<Figure size ...>"
    assert page.locator(".jp-Notebook .jp-Cell").nth(2).get_by_text("<Figure").count() == 0
    terminal = page.locator(".jp-Notebook .jp-Cell").nth(3).locator("pre.netnb-term").first
    terminal.wait_for(timeout=60_000)
    font = page.evaluate("el => getComputedStyle(el).fontFamily", terminal.element_handle())
    assert "mono" in font.lower(), font                                 # `ip -br addr` columns line up
    page.screenshot(path=str(shot), full_page=True)
    return page.locator(".widget-html-content", has_text="stopped:").first.inner_text()
