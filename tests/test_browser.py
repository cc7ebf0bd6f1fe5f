"""The notebooks' explorers in a real browser: JupyterLab + headless Chromium.

Starts JupyterLab on a free localhost port over a temporary copy of the notebooks and opens one
in Debian's Chromium driven by Playwright (no browser download), then runs all cells from the
Run menu. In ``05_latent_space.ipynb`` it moves a principal-direction slider with the keyboard
and checks that the latent explorer's picture changed; in ``01_vanilla_gan.ipynb`` it clicks the
training-dynamics explorer's *step both* button and checks that the picture changed. Run it with
``pytest -m browser tests/test_browser.py`` (``make browser``); it needs ``apt-get install
chromium`` and ``pip install playwright``.

Skips (loudly) only when Chromium or Playwright is not installed.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import skip_loudly

pytestmark = pytest.mark.browser

NOTEBOOK = "05_latent_space.ipynb"
DYNAMICS_NOTEBOOK = "01_vanilla_gan.ipynb"
ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-quic", "--disable-dev-shm-usage"]
SETTINGS = [
    ("@jupyterlab/notebook-extension", "tracker", {"autoStartDefaultKernel": True}),
    ("@jupyterlab/apputils-extension", "notification",
     {"fetchNews": "false", "checkForUpdates": False}),
]
SERVER_START_S = 60
KERNEL_START_S = 60
RUN_ALL_S = 150  # the whole notebook in the tiny profile, started from the browser
RERENDER_S = 30
DYNAMICS_S = 150  # 01 in the tiny profile, up to its explorer; a step clicked meanwhile waits


def _skip_loudly(reason: str) -> None:
    skip_loudly(reason, what="BROWSER TEST")


def _chromium() -> str:
    for candidate in (os.environ.get("GANLAB_CHROMIUM"), "/usr/bin/chromium",
                      shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and Path(candidate).is_file():
            return candidate
    _skip_loudly("no Chromium found (install it with `apt-get install -y chromium`; "
                 ".ci/run does this when it can)")
    raise AssertionError("unreachable")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_server(url: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"JupyterLab exited with {proc.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"JupyterLab did not answer within {SERVER_START_S} s:\n{log.read_text()}")


@pytest.fixture
def lab(tmp_path):
    """A JupyterLab server over a copy of the notebook; yields (base_url, token)."""
    work = tmp_path / "notebooks"
    work.mkdir()
    for name in (NOTEBOOK, DYNAMICS_NOTEBOOK):
        shutil.copy(ROOT / "notebooks" / name, work / name)
    port, token = _free_port(), secrets.token_hex(16)
    env = {**os.environ, "GANLAB_PROFILE": "tiny",
           "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
           "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
           "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "workspaces"),
           "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"),
           # the kernel imports this checkout's ganlab, wherever JupyterLab starts it
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT),
                                                       os.environ.get("PYTHONPATH")]))}
    # Start the notebook's kernel without asking, and no news or update pop-ups.
    for extension, plugin, settings in SETTINGS:
        folder = tmp_path / "settings" / extension
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{plugin}.jupyterlab-settings").write_text(json.dumps(settings))
    log = tmp_path / "jupyter.log"
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root",
           "--ip=127.0.0.1", f"--port={port}", "--port-retries=0",
           f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={work}",
           "--LabApp.extension_manager=readonly", "--LabApp.news_url=None",
           "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env,
                                cwd=work, start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_for_server(f"{base}/api/status?token={token}", proc, log)
        yield base, token
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


def _wait_for_idle_kernel(base: str, token: str) -> None:
    """Until the server reports the notebook's kernel started and idle."""
    deadline = time.monotonic() + KERNEL_START_S
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"{base}/api/sessions?token={token}", timeout=5) as r:
            sessions = json.load(r)
        if any(s["kernel"]["execution_state"] == "idle" for s in sessions):
            return
        time.sleep(0.5)
    raise RuntimeError(f"the notebook's kernel was not idle within {KERNEL_START_S} s")


def _image_bytes(img) -> bytes:  # noqa: ANN001 - a Playwright Locator
    """The PNG the <img> shows, read back through its blob: URL inside the page."""
    values = img.evaluate(
        "async el => Array.from(new Uint8Array(await (await fetch(el.src)).arrayBuffer()))")
    return bytes(values)


@pytest.fixture
def browser_tools():
    """(Chromium's path, playwright's sync_playwright), or a loud skip: checked before the server
    starts."""
    executable = _chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _skip_loudly("Python playwright is not installed (`pip install playwright`; never "
                     "`playwright install`: the test uses Debian's chromium)")
    return executable, sync_playwright


@contextlib.contextmanager
def _run_all(browser_tools, lab, notebook: str, shots: Path):
    """A Chromium page on ``notebook`` in JupyterLab after Run > Run All Cells was clicked; on a
    failure inside the block, a screenshot of the page goes to ``shots``."""
    executable, sync_playwright = browser_tools
    base, token = lab
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, headless=True,
                                    args=CHROMIUM_ARGS, timeout=60_000)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            page.goto(f"{base}/lab/tree/{notebook}?token={token}", timeout=60_000)
            page.locator(".jp-NotebookPanel .jp-Cell").first.wait_for(timeout=60_000)
            _wait_for_idle_kernel(base, token)
            page.wait_for_timeout(1000)  # let the page connect to the kernel
            page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
            page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
            yield page
        except Exception:
            page.screenshot(path=str(shots / "failure.png"))
            print(f"browser screenshots in {shots}", file=sys.stderr)
            raise
        finally:
            browser.close()


def test_notebook_explorer_in_chromium(browser_tools, lab, tmp_path):
    shots = tmp_path / "screenshots"
    shots.mkdir()
    with _run_all(browser_tools, lab, NOTEBOOK, shots) as page:
        # The last cell prints the exercise status: the whole notebook has run.
        page.locator(".jp-OutputArea-output", has_text="exercise 05.2 (how short the lerp "
                     "midpoint is): not done yet").wait_for(timeout=RUN_ALL_S * 1000)
        page.screenshot(path=str(shots / "after_run_all.png"))

        explorer = page.locator(".ganlab-explorer").first  # dcgan_shapes64's explorer
        explorer.scroll_into_view_if_needed()
        explorer.locator(".lm-TabBar-tab", has_text="Directions").first.click()
        img = explorer.locator("img.ganlab-directions-image")
        img.wait_for(state="visible", timeout=30_000)
        src_before = img.get_attribute("src")
        png_before = _image_bytes(img)
        img.screenshot(path=str(shots / "before.png"))

        # PC1's slider: focus its handle and step right with the keyboard (0.25 per press).
        handle = explorer.locator(".ganlab-pc-slider .noUi-handle").first
        handle.focus()
        for _ in range(8):
            handle.press("ArrowRight")
        page.wait_for_function(
            "([el, old]) => el.src !== old", arg=[img.element_handle(), src_before],
            timeout=RERENDER_S * 1000)
        png_after = _image_bytes(img)
        img.screenshot(path=str(shots / "after.png"))
    assert png_before[:8] == b"\x89PNG\r\n\x1a\n"
    assert png_after != png_before, "moving the slider did not change the picture"
    assert (shots / "before.png").read_bytes() != (shots / "after.png").read_bytes()


def test_dynamics_explorer_steps_in_chromium(browser_tools, lab, tmp_path):
    shots = tmp_path / "screenshots"
    shots.mkdir()
    with _run_all(browser_tools, lab, DYNAMICS_NOTEBOOK, shots) as page:
        explorer = page.locator(".ganlab-dynamics").first
        img = explorer.locator("img.ganlab-dynamics-image")
        img.wait_for(state="visible", timeout=DYNAMICS_S * 1000)
        explorer.scroll_into_view_if_needed()
        status = explorer.locator(".ganlab-dynamics-status")
        status.filter(has_text="0 G steps, 0 D steps").wait_for(timeout=30_000)
        src_before = img.get_attribute("src")
        png_before = _image_bytes(img)
        img.screenshot(path=str(shots / "before.png"))

        explorer.locator("button.ganlab-dynamics-step-button").click()
        page.wait_for_function(
            "([el, old]) => el.src !== old", arg=[img.element_handle(), src_before],
            timeout=DYNAMICS_S * 1000)
        status.filter(has_text="1 G steps, 1 D steps").wait_for(timeout=30_000)
        png_after = _image_bytes(img)
        img.screenshot(path=str(shots / "after.png"))
    assert png_before[:8] == b"\x89PNG\r\n\x1a\n"
    assert png_after != png_before, "stepping the game did not change the picture"
