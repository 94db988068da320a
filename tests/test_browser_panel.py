"""The panel in a real browser: JupyterLab in headless Debian Chromium.

What only a browser can show: the panel renders, a click on Generate leaves the kernel free (a
cell run afterwards finishes first), and the images arrive in the gallery by trait assignment
from the engine thread. A screenshot is kept in test-artifacts/panel.png.
"""

from __future__ import annotations

import time

import nbformat
import pytest
from bounds import KERNEL_FREE_S
from browser import chromium_page, jupyter_server, open_notebook, requires_browser, run_all, screenshot

pytestmark = [requires_browser, pytest.mark.timeout(180)]

CELLS = [
    "import wisgate_nb as wg\nwg.configure(demo=True, demo_latency=3)",
    "p = wg.panel()\np",
    'probes = globals().get("probes", 0) + 1\nprint(f"probe {probes} done")',
]
GALLERY_IMAGE_LOADED = """() => [...document.querySelectorAll('.wisgate-gallery img')]
    .some(img => img.complete && img.naturalWidth > 0)"""


def write_notebook(folder, name: str = "panel.ipynb") -> str:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nbformat.write(nb, folder / name)
    return name


def output_of(page, index: int):
    return page.locator(".jp-Notebook .jp-Cell").nth(index).locator(".jp-OutputArea-output")


@pytest.mark.parametrize("kind", ["lab", "notebook"])
def test_panel_generates_while_the_kernel_stays_free(tmp_path, kind):
    name = write_notebook(tmp_path)
    env = {"WISGATE_HISTORY_DIR": str(tmp_path / "runs")}
    with jupyter_server(kind, tmp_path, env=env) as server, chromium_page(viewport={"width": 1400, "height": 1500}) as page:
        try:
            open_notebook(page, server, name)
            run_all(page)
            panel = page.locator(".wisgate-panel")
            panel.wait_for(timeout=60_000)
            output_of(page, 2).filter(has_text="probe 1 done").wait_for(timeout=30_000)

            panel.locator(".wisgate-prompt textarea").fill("a lighthouse on a cliff at dusk")
            clicked = time.monotonic()
            panel.locator("button.wisgate-generate").click()
            page.locator(".wisgate-slot").first.wait_for(timeout=10_000)

            # While the panel works (demo latency 3 s), run the probe cell again: it must finish first.
            page.locator(".jp-Notebook .jp-Cell").nth(2).locator(".jp-InputArea-editor").click()
            page.keyboard.press("Shift+Enter")
            output_of(page, 2).filter(has_text="probe 2 done").wait_for(timeout=10_000)
            probe_s = time.monotonic() - clicked
            assert not page.evaluate(GALLERY_IMAGE_LOADED), "the image came before the probe cell finished"
            assert probe_s < KERNEL_FREE_S, f"the probe cell took {probe_s:.1f} s: the kernel was blocked"

            page.wait_for_function(GALLERY_IMAGE_LOADED, timeout=30_000)
            panel.locator(".wisgate-slot-status", has_text="1 of 1 image").wait_for(timeout=10_000)
            panel.evaluate("element => element.scrollIntoView({block: 'start'})")
            screenshot(page, "panel.png" if kind == "lab" else f"panel-{kind}.png")
        except Exception:
            screenshot(page, f"panel-{kind}-failure.png")
            print(server.log()[-5000:])
            raise
