"""Shared helpers for real-browser tests: a throwaway Jupyter server and a headless Debian Chromium page.

    with jupyter_server("lab", tmp_path) as server, chromium_page() as page:
        page.goto(f"{server.base}/lab/tree/demo.ipynb?token={server.token}")

The server runs this interpreter (`sys.executable`) with every Jupyter/IPython directory in a temporary
place, so no user configuration interferes; its `python3` kernelspec points at this interpreter too.
Only 127.0.0.1 is used. Chromium is Debian's (/usr/bin/chromium), never a downloaded browser.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
_MODULE = {"lab": "jupyterlab", "notebook": "notebook"}

# JupyterLab / Notebook 7 user settings that make a test page quiet and deterministic: no news or
# update toasts, the notebook's kernel starts without a "Select Kernel" dialog, and every cell is
# rendered (no windowing), so selectors find cells that are off screen.
_USER_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false", "checkForUpdates": False,
    },
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {
        "windowingMode": "none", "autoStartDefaultKernel": True,
    },
}


def browser_available() -> bool:
    """True when Debian's chromium and the Playwright package are both there."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return False
    return os.access(CHROMIUM, os.X_OK)


# A missing browser fails these tests with what to do (a skip would let a run look complete without them).
requires_browser = pytest.mark.usefixtures("chromium_is_installed")


@dataclass(frozen=True)
class JupyterServer:
    """A running server: open `f"{base}/lab/tree/x.ipynb?token={token}"` (lab) or `.../notebooks/x.ipynb`."""

    kind: str  # "lab" | "notebook"
    base: str  # "http://127.0.0.1:PORT"
    token: str
    root_dir: Path
    log_path: Path
    pid: int

    @property
    def url(self) -> str:
        """The landing page with the token."""
        path = "lab" if self.kind == "lab" else "tree"
        return f"{self.base}/{path}?token={self.token}"

    def notebook_url(self, name: str) -> str:
        """The page that opens notebook `name` (relative to root_dir) in this kind of front end."""
        path = f"lab/tree/{name}" if self.kind == "lab" else f"notebooks/{name}"
        return f"{self.base}/{path}?token={self.token}"

    def log(self) -> str:
        """The server's output so far (useful in an assertion message)."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def isolated_env(home: Path, extra: dict | None = None) -> dict:
    """An environment whose Jupyter and IPython directories live under `home`, with a python3 kernelspec
    for this interpreter and quiet front-end settings."""
    env = dict(os.environ)
    for name in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR"):
        env.pop(name, None)
    config_dir, data_dir = home / "config", home / "data"
    env.update({
        "JUPYTER_CONFIG_DIR": str(config_dir),
        "JUPYTER_DATA_DIR": str(data_dir),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "IPYTHONDIR": str(home / "ipython"),
        "JUPYTER_PLATFORM_DIRS": "0",
        "PATH": os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", ""),
        "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p),
        "PYTHONUNBUFFERED": "1",
    })
    kernel_dir = data_dir / "kernels" / "python3"
    kernel_dir.mkdir(parents=True, exist_ok=True)
    (kernel_dir / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (ipykernel)", "language": "python",
    }))
    for relative, values in _USER_SETTINGS.items():
        path = config_dir / "lab" / "user-settings" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    env.update(extra or {})
    return env


def _answers(base: str, token: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@contextlib.contextmanager
def jupyter_server(kind: str, root_dir: Path, env: dict | None = None, timeout: float = 60.0
                   ) -> Iterator[JupyterServer]:
    """Start `jupyter lab` or `jupyter notebook` on a free loopback port; stop it (and its kernels) after."""
    if kind not in _MODULE:
        raise ValueError(f"kind must be 'lab' or 'notebook', got {kind!r}")
    root_dir = Path(root_dir).resolve()
    home = Path(tempfile.mkdtemp(prefix="wisgate-jupyter-"))
    port, token = free_port(), secrets.token_hex(16)
    base = f"http://127.0.0.1:{port}"
    log_path = home / "server.log"
    command = [
        sys.executable, "-m", _MODULE[kind], "--no-browser", "--ip=127.0.0.1", f"--port={port}",
        f"--IdentityProvider.token={token}", "--allow-root", f"--ServerApp.root_dir={root_dir}",
        "--ServerApp.port_retries=0",
    ]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, cwd=root_dir, env=isolated_env(home, env), stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    server = JupyterServer(kind, base, token, root_dir, log_path, process.pid)
    try:
        deadline = time.monotonic() + timeout
        while not _answers(base, token):
            if process.poll() is not None:
                raise RuntimeError(f"jupyter {kind} exited with {process.returncode}:\n{server.log()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"jupyter {kind} did not answer within {timeout} s:\n{server.log()}")
            time.sleep(0.25)
        yield server
    finally:
        _stop(process, base, token)
        shutil.rmtree(home, ignore_errors=True)


def _stop(process: subprocess.Popen, base: str, token: str) -> None:
    """Ask the server to shut down (it stops its kernels); escalate on its own process group if it hangs."""
    if process.poll() is None:
        request = urllib.request.Request(f"{base}/api/shutdown?token={token}", method="POST", data=b"")
        with contextlib.suppress(OSError):
            urllib.request.urlopen(request, timeout=5).close()
    for sig, grace in ((None, 10), (signal.SIGTERM, 5), (signal.SIGKILL, 5)):
        if sig is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, sig)
        try:
            process.wait(timeout=grace)
            break
        except subprocess.TimeoutExpired:
            continue
    # Kernels live in the server's process group; make sure none outlives the test.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


@contextlib.contextmanager
def chromium_page(viewport: dict | None = None, timeout_ms: float = 30_000):
    """A Playwright sync `page` in headless Debian Chromium with a fresh profile, closed after."""
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="wisgate-chromium-")
    try:
        with sync_playwright() as p:
            context = p.chromium.launch_persistent_context(
                profile, executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True,
                viewport=viewport or {"width": 1400, "height": 1000},
            )
            try:
                page = context.pages[0] if context.pages else context.new_page()
                page.set_default_timeout(timeout_ms)
                yield page
            finally:
                context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def open_notebook(page, server: JupyterServer, name: str, timeout_s: float = 90.0) -> None:
    """Open notebook ``name`` and return once its kernel is connected and idle.

    The page's own "idle" indicator says idle before a kernel even exists, and the first websocket
    can fail while the kernel is still starting; so this waits for a ``kernel_info_reply`` on a kernel
    channel (the front end's handshake), then for the execution indicator to say idle.
    """
    answered: list[bool] = []

    def on_frame(payload) -> None:
        data = payload if isinstance(payload, bytes) else str(payload).encode()
        if b"kernel_info_reply" in data:
            answered.append(True)

    def on_websocket(ws) -> None:
        if "/api/kernels/" in ws.url and "/channels" in ws.url:
            ws.on("framereceived", on_frame)

    page.on("websocket", on_websocket)
    try:
        page.goto(server.notebook_url(name))
        deadline = time.monotonic() + timeout_s
        while not answered:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the kernel of {name} did not answer within {timeout_s} s:\n{server.log()[-3000:]}")
            page.wait_for_timeout(100)
        page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=timeout_s * 1000)
    finally:
        page.remove_listener("websocket", on_websocket)


def write_notebook(folder: Path, name: str, cells: list[str]) -> str:
    """Write a notebook of these code cells with the python3 kernelspec; returns its name (for open_notebook)."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nbformat.write(nb, Path(folder) / name)
    return name


def run_all(page) -> None:
    """Run > Run All Cells (the same menu in JupyterLab and Notebook 7)."""
    page.locator(".lm-MenuBar-item", has_text="Run").first.click()
    page.locator(".lm-Menu-item:visible", has_text="Run All Cells").first.click()


def drag(page, box, start: tuple[float, float], end: tuple[float, float], steps: int = 12) -> None:
    """A mouse drag between two points given as fractions of the element's box."""
    page.mouse.move(box["x"] + box["width"] * start[0], box["y"] + box["height"] * start[1])
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * end[0], box["y"] + box["height"] * end[1], steps=steps)
    page.mouse.up()


def save(page, path: Path) -> None:
    """Ctrl+S, then wait until the file on disk has the outputs."""
    page.locator(".jp-Notebook:visible").first.click(position={"x": 5, "y": 5})
    page.keyboard.press("Control+s")
    for _ in range(100):
        try:
            nb = nbformat.read(path, as_version=4)
        except (ValueError, OSError):  # caught while the server was writing it: look again
            nb = None
        if nb is not None and any(o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])):
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"{path.name} was not saved with its outputs")


def screenshot(page, name: str) -> Path:
    """Save a full-page screenshot under test-artifacts/ and return its path."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=True)
    return path


# Every visible text of wisgate_nb, its colour composited over the backgrounds under it: [{text, ratio, ...}].
CONTRASTS = """() => {
    const canvas = document.createElement('canvas'); canvas.width = canvas.height = 1;
    const ctx = canvas.getContext('2d', {willReadFrequently: true});
    const rgba = (css) => {  // any CSS colour (rgb(), color(srgb ...), color-mix results) -> [r, g, b, a]
        ctx.clearRect(0, 0, 1, 1); ctx.fillStyle = '#000'; ctx.fillStyle = css; ctx.fillRect(0, 0, 1, 1);
        const d = ctx.getImageData(0, 0, 1, 1).data; return [d[0], d[1], d[2], d[3] / 255];
    };
    const over = (top, under) => top.slice(0, 3).map((c, i) => c * top[3] + under[i] * (1 - top[3]));
    const background = (el) => {
        const layers = [];
        for (let e = el; e; e = e.parentElement) {
            const c = rgba(getComputedStyle(e).backgroundColor);
            if (c[3] > 0) layers.push(c);
            if (c[3] >= 1) break;
        }
        let base = [255, 255, 255];
        if (!layers.length || layers[layers.length - 1][3] < 1) base = [255, 255, 255];
        for (const layer of layers.reverse()) base = over(layer, base);
        return base;
    };
    const luminance = (c) => {
        const [r, g, b] = c.map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
        return 0.2126 * r + 0.7152 * g + 0.0722 * b;
    };
    const roots = document.querySelectorAll('.wisgate-nb, .wisgate-panel, .wisgate-reload-note');
    const seen = new Set(), found = [];
    for (const root of roots) {
        for (const el of [root, ...root.querySelectorAll('*')]) {
            if (seen.has(el)) continue; seen.add(el);
            if (['STYLE', 'SCRIPT', 'OPTION', 'TEXTAREA', 'INPUT', 'SELECT'].includes(el.tagName)) continue;
            const text = [...el.childNodes].filter(n => n.nodeType === 3).map(n => n.textContent).join('').trim();
            if (!text) continue;
            const style = getComputedStyle(el);
            if (!el.getClientRects().length || style.visibility !== 'visible') continue;
            if (el.closest(':disabled, .mod-disabled')) continue;  // inactive controls are exempt
            const bg = background(el);
            const fg = over(rgba(style.color), bg);
            const [hi, lo] = [luminance(fg), luminance(bg)].sort((x, y) => y - x);
            found.push({text: text.slice(0, 60), ratio: (hi + 0.05) / (lo + 0.05), fg: fg.map(Math.round),
                        bg: bg.map(Math.round), tag: el.tagName, cls: String(el.className).slice(0, 60)});
        }
    }
    return found;
}"""
