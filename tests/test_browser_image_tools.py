"""The mask painter and the compare slider in a real browser: JupyterLab and Notebook 7 in headless Chromium.

What only a browser can show: a mouse drag over the painter's preview gives a mask whose transparent
pixels lie along the stroke at the image's full resolution; the eraser and undo work; the slider's
divider follows a drag and the arrow keys. Python reads it all back from the synced traits.
The same in marimo (`marimo edit`, headless) is in test_browser_marimo.py.
"""

from __future__ import annotations

import json

import nbformat
import pytest
from browser import chromium_page, drag, jupyter_server, open_notebook, requires_browser, run_all, screenshot

pytestmark = [requires_browser, pytest.mark.timeout(240)]

W, H, BRUSH = 1024, 768, 60  # the image is wider than the 768 px preview: coordinates must be scaled
SETUP = f"""
import json
import wisgate_nb as wg
from PIL import Image

painter = wg.mask_painter(Image.new("RGB", ({W}, {H}), (40, 90, 160)), brush={BRUSH})
slider = wg.compare_slider(Image.new("RGB", (600, 400), "red"), Image.new("RGB", (600, 400), "blue"))
runs = 0

def probe(*points):
    global runs
    runs += 1
    mask = painter.mask
    alpha = mask.getchannel("A") if mask is not None else None
    print("PROBE", runs, json.dumps({{
        "strokes": len(painter.strokes), "tool": painter.tool, "position": slider.position,
        "size": list(mask.size) if mask is not None else None,
        "alpha": [alpha.getpixel(p) if alpha is not None else 255 for p in points]}}))
"""
# Along the horizontal stroke (x from 20% to 80% at mid-height), beside it, above and below it.
POINTS = [(300, 384), (512, 384), (700, 384), (100, 384), (950, 384), (512, 384 + 22), (512, 384 + 45),
          (300, 384 - 45), (512, 100)]
CELLS = [SETUP, "painter", "slider", f"probe(*{POINTS!r})"]


def write_notebook(folder, name: str = "tools.ipynb") -> str:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nbformat.write(nb, folder / name)
    return name


class Probe:
    """Re-runs the probe cell and returns what Python sees (the cell's output is its only channel)."""

    def __init__(self, page):
        self.page, self.runs = page, 1  # Run All ran it once

    def __call__(self) -> dict:
        cell = self.page.locator(".jp-Notebook .jp-Cell").nth(3)
        cell.locator(".jp-InputArea-editor").click()
        self.page.keyboard.press("Shift+Enter")
        self.runs += 1
        line = cell.locator(".jp-OutputArea-output", has_text=f"PROBE {self.runs} ")
        line.wait_for(timeout=20_000)
        text = line.inner_text()
        return json.loads(text.split(f"PROBE {self.runs} ", 1)[1].strip())


@pytest.mark.parametrize("kind", ["lab", "notebook"])
def test_painter_paints_erases_and_undoes_and_the_slider_slides(tmp_path, kind):
    name = write_notebook(tmp_path)
    env = {"WISGATE_HISTORY_DIR": str(tmp_path / "runs"), "WISGATE_DEMO": "1"}
    with jupyter_server(kind, tmp_path, env=env) as server, chromium_page(viewport={"width": 1400, "height": 1800}) as page:
        try:
            open_notebook(page, server, name)
            run_all(page)
            canvas = page.locator(".wisgate-painter-canvas")
            canvas.wait_for(timeout=60_000)
            page.locator(".jp-Notebook .jp-Cell").nth(3).locator(".jp-OutputArea-output",
                                                                 has_text="PROBE 1 ").wait_for(timeout=30_000)
            probe = Probe(page)
            page.wait_for_function("""() => { const i = document.querySelector('.wisgate-painter-image');
                                             return i && i.complete && i.naturalWidth > 0; }""")
            box = canvas.bounding_box()
            assert box["width"] < W, "the preview should be smaller than the image"

            drag(page, box, (0.2, 0.5), (0.8, 0.5))
            seen = probe()
            assert seen["strokes"] == 1 and seen["size"] == [W, H]  # the mask is at the image's full resolution
            along, beside = seen["alpha"][:3], seen["alpha"][3:]
            assert along == [0, 0, 0], seen  # transparent along the stroke...
            assert beside[0] == 255 and beside[1] == 255  # ...not past its ends,
            assert beside[2] == 0 and beside[3] == 255 and beside[4] == 255 and beside[5] == 255, seen  # its width

            page.locator(".wisgate-painter-button[data-action='eraser']").click()
            drag(page, box, (0.5, 0.1), (0.5, 0.9))
            seen = probe()
            assert seen["tool"] == "eraser" and seen["strokes"] == 2
            assert seen["alpha"][:3] == [0, 255, 0], seen  # erased where the eraser crossed, only there

            page.locator(".wisgate-painter-button[data-action='undo']").click()
            seen = probe()
            assert seen["strokes"] == 1 and seen["alpha"][:3] == [0, 0, 0], seen

            handle = page.locator(".wisgate-slider")
            sbox = handle.bounding_box()
            drag(page, sbox, (0.5, 0.5), (0.25, 0.5), steps=6)
            seen = probe()
            assert abs(seen["position"] - 25) < 2, seen
            handle.focus()
            for _ in range(3):
                page.keyboard.press("ArrowRight")
            page.keyboard.press("Shift+ArrowRight")
            seen = probe()
            assert abs(seen["position"] - (25 + 3 * 2 + 10)) < 2, seen
            clip = page.locator(".wisgate-slider-top").evaluate("e => e.style.clipPath")
            assert clip.startswith("inset(0") and f"{seen['position']:g}%" in clip.replace("px", ""), clip
            screenshot(page, f"image-tools-{kind}.png")
        except Exception:
            screenshot(page, f"image-tools-{kind}-failure.png")
            print(server.log()[-5000:])
            raise


def test_files_with_provenance_still_open_in_a_browser():
    """Chromium's own decoders (libpng, libjpeg, libwebp) open the files as wisgate_nb writes them."""
    import base64
    import io

    from PIL import Image

    from wisgate_nb.records.provenance import embed, facts

    info = facts({"prompt": "a fox ☃ <b>", "model": "m", "params": {}, "source": "api"}, request_id="req_1")
    sources = []
    for fmt, mode, options in (("PNG", "RGB", {}), ("JPEG", "RGB", {}), ("WEBP", "RGB", {}),
                               ("WEBP", "RGBA", {"lossless": True})):
        out = io.BytesIO()
        Image.new(mode, (40, 30), (200, 30, 30, 200)).save(out, fmt, **options)
        sources.append(f"data:image/{fmt.lower()};base64,{base64.b64encode(embed(out.getvalue(), info)).decode()}")
    with chromium_page() as page:
        page.set_content("".join(f'<img src="{src}">' for src in sources))
        page.wait_for_function("() => [...document.images].every(i => i.complete)")
        sizes = page.evaluate("() => [...document.images].map(i => [i.naturalWidth, i.naturalHeight])")
    assert sizes == [[40, 30]] * 4
