"""The mask painter and the compare slider in marimo (`marimo edit --headless`), in headless Chromium.

marimo renders anywidgets in shadow roots (Playwright's locators pierce them). A cell that reads the
wrapped widgets re-runs whenever a trait changes in the browser, so its output is what Python sees.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import urllib.request

import pytest
from browser import REPO, chromium_page, drag, free_port, requires_browser, screenshot

pytestmark = [requires_browser, pytest.mark.timeout(180)]

W, H, BRUSH = 1024, 768, 60
NOTEBOOK = textwrap.dedent(f'''
    import marimo

    app = marimo.App()


    @app.cell
    def _():
        import json

        import marimo as mo
        from PIL import Image

        import wisgate_nb as wg
        return Image, json, mo, wg


    @app.cell
    def _(Image, mo, wg):
        painter = mo.ui.anywidget(wg.mask_painter(Image.new("RGB", ({W}, {H}), (40, 90, 160)), brush={BRUSH}))
        painter
        return (painter,)


    @app.cell
    def _(Image, mo, wg):
        slider = mo.ui.anywidget(wg.compare_slider(Image.new("RGB", (600, 400), "red"),
                                                   Image.new("RGB", (600, 400), "blue")))
        slider
        return (slider,)


    @app.cell
    def _(json, mo, painter, slider):
        _mask = painter.widget.mask
        _alpha = [(_mask.getchannel("A").getpixel(p) if _mask is not None else 255)
                  for p in [(300, 384), (512, 384), (700, 384), (100, 384), (512, 429)]]
        mo.md("PROBE " + json.dumps({{"strokes": len(painter.value["strokes"]), "alpha": _alpha,
                                      "size": list(_mask.size) if _mask is not None else None,
                                      "position": slider.value["position"]}}) + " END")
        return


    if __name__ == "__main__":
        app.run()
''')


@contextlib.contextmanager
def marimo_edit(folder, name: str):
    """`marimo edit NAME --headless --no-token` on a free loopback port; every cell runs when the page opens."""
    (folder / "pyproject.toml").write_text("[tool.marimo.runtime]\nauto_instantiate = true\n")
    port = free_port()
    env = {**os.environ, "MARIMO_SKIP_UPDATE_CHECK": "1", "XDG_CONFIG_HOME": str(folder / "config"),
           "XDG_STATE_HOME": str(folder / "state"), "XDG_CACHE_HOME": str(folder / "cache"),
           "WISGATE_HISTORY_DIR": str(folder / "runs"), "WISGATE_DEMO": "1",
           "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)}
    log = open(folder / "marimo.log", "wb")
    process = subprocess.Popen([sys.executable, "-m", "marimo", "edit", name, "--headless", "--no-token",
                                "--host", "127.0.0.1", "--port", str(port), "--skip-update-check"],
                               cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(f"{base}/health", timeout=2) as response:
                    if response.status == 200:
                        break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"marimo did not start:\n{(folder / 'marimo.log').read_text()[-3000:]}")
            time.sleep(0.25)
        yield base
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
        log.close()


def read_probe(page, want) -> dict:
    """Wait until the probe cell's output satisfies ``want`` (it re-runs on every trait change); return it."""
    deadline, seen = time.monotonic() + 30, None
    while time.monotonic() < deadline:
        text = page.get_by_text("PROBE ").last.inner_text()
        seen = json.loads(text.split("PROBE ", 1)[1].rsplit(" END", 1)[0])
        if want(seen):
            return seen
        page.wait_for_timeout(200)
    raise AssertionError(f"marimo's probe cell never showed what was expected; last: {seen}")


def test_painter_and_slider_work_in_marimo(tmp_path):
    (tmp_path / "tools.py").write_text(NOTEBOOK)
    with marimo_edit(tmp_path, "tools.py") as base, chromium_page(viewport={"width": 1400, "height": 1800}) as page:
        try:
            page.goto(f"{base}/")
            canvas = page.locator(".wisgate-painter-canvas")
            canvas.wait_for(timeout=60_000)
            read_probe(page, lambda s: s["strokes"] == 0)
            page.wait_for_function("""() => [...document.querySelectorAll('*')].some(h => h.shadowRoot &&
                [...h.shadowRoot.querySelectorAll('.wisgate-painter-image')].some(i => i.complete && i.naturalWidth))""")
            box = canvas.bounding_box()
            drag(page, box, (0.2, 0.5), (0.8, 0.5))
            seen = read_probe(page, lambda s: s["strokes"] == 1)
            assert seen["size"] == [W, H] and seen["alpha"] == [0, 0, 0, 255, 255], seen

            page.locator(".wisgate-painter-button[data-action='eraser']").click()
            drag(page, box, (0.5, 0.1), (0.5, 0.9))
            seen = read_probe(page, lambda s: s["strokes"] == 2)
            assert seen["alpha"][:3] == [0, 255, 0], seen
            page.locator(".wisgate-painter-button[data-action='undo']").click()
            seen = read_probe(page, lambda s: s["strokes"] == 1)
            assert seen["alpha"][:3] == [0, 0, 0], seen

            slider = page.locator(".wisgate-slider")
            drag(page, slider.bounding_box(), (0.5, 0.5), (0.25, 0.5), steps=6)
            read_probe(page, lambda s: abs(s["position"] - 25) < 2)
            slider.focus()
            for _ in range(3):
                page.keyboard.press("ArrowRight")
            read_probe(page, lambda s: abs(s["position"] - 31) < 2)
            screenshot(page, "image-tools-marimo.png")
        except Exception:
            screenshot(page, "image-tools-marimo-failure.png")
            print((tmp_path / "marimo.log").read_text()[-5000:])
            raise
