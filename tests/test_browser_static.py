"""A saved notebook as nbviewer and GitHub show it: no Jupyter, no kernel, no history folder.

The notebook is run in a real kernel (demo mode), then exported by nbconvert's HTML exporter (what
nbviewer runs) in its light and its dark theme, and each page is opened in headless Chromium from a
folder that holds nothing else. On both: every image decodes from the page itself, and every
wisgate_nb text has a contrast of at least 4.5:1 against the background it is drawn on.
"""

from __future__ import annotations

import json

import nbformat
import pytest
from browser import CONTRASTS, chromium_page, requires_browser, screenshot
from nbconvert import HTMLExporter
from reliability_helpers import run_in_demo_kernel

pytestmark = [requires_browser, pytest.mark.timeout(240)]

MIN_CONTRAST = 4.5
CELLS = [
    "%load_ext wisgate_nb\nimport wisgate_nb as wg",
    "%%wisgate_image -s 256x256 -n 2\ntwo lighthouses on a cliff",
    "%%wisgate_image -s 256x256\na fox in the snow\n---\na cat on a roof",
    "%%wisgate_image -s 256x256\nsomething forbidden",  # refused by the demo's safety filter: an error output
    "wg.history().compare(last=3)",
    "%wisgate_history",
    "%wisgate_doctor",
]


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """The notebook after "Run All" in a demo kernel (its history folder is elsewhere and stays behind)."""
    work = tmp_path_factory.mktemp("run")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    run_in_demo_kernel(nb, work, allow_errors=True)
    return nb


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_an_exported_notebook_shows_its_images_and_reads_in_both_themes(executed, tmp_path, theme):
    html, _ = HTMLExporter(template_name="lab", theme=theme).from_notebook_node(executed)
    page_path = tmp_path / f"notebook-{theme}.html"
    page_path.write_text(html, encoding="utf-8")
    assert [p.name for p in tmp_path.iterdir()] == [page_path.name]  # nothing beside it: no wisgate_runs/
    with chromium_page(viewport={"width": 1400, "height": 1000}) as page:
        try:
            page.goto(page_path.as_uri())
            images = page.evaluate("""async () => {
                const imgs = [...document.querySelectorAll('.wisgate-nb img')];
                await Promise.all(imgs.map(i => i.decode().catch(() => null)));
                return imgs.map(i => ({src: i.getAttribute('src').slice(0, 22), width: i.naturalWidth}));
            }""")
            # 2 + 2 results, 3 compared (one figure each, n=1); the history table may add its own thumbnails
            assert len(images) >= 7, images
            assert all(i["src"].startswith("data:image/") and i["width"] > 0 for i in images), images
            # the history table (long error text included) fits the page: no thumbnail is cut off at its edge
            clipped = page.evaluate("""() => [...document.querySelectorAll('.wisgate-nb table img')].filter(i => {
                const area = i.closest('.jp-OutputArea-output').getBoundingClientRect();
                return i.getBoundingClientRect().right > area.right + 1; }).length""")
            assert page.locator(".wisgate-nb table img").count() >= 4 and clipped == 0
            text = page.locator("body").inner_text()
            assert "two lighthouses on a cliff" in text and "safety" in text.lower()
            measured = page.evaluate(CONTRASTS)
            screenshot(page, f"static-{theme}.png")
        except Exception:
            screenshot(page, f"static-{theme}-failure.png")
            raise
    assert len(measured) > 20, f"only {len(measured)} texts found"
    failing = [m for m in measured if m["ratio"] < MIN_CONTRAST]
    print(theme, "lowest contrast", round(min(m["ratio"] for m in measured), 2), "over", len(measured), "texts")
    assert not failing, json.dumps(failing[:8], indent=1)


TOOL_CELLS = [
    "import wisgate_nb as wg\n"
    'a = wg.generate("a red fox", size="256x256")\nb = wg.generate("a blue fox", size="256x256")',
    'wg.compare_slider(a, b, labels=("red fox", "blue fox"))',
    "painter = wg.mask_painter(a)\npainter",
    "painter.add_rect(0, 0, 64, 64).add_circle(128, 128, 20);  # painted after it was shown, like a user would",
]


def test_a_saved_notebook_keeps_pictures_of_the_slider_and_the_painter_with_their_true_state(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in TOOL_CELLS])
    run_in_demo_kernel(nb, tmp_path)
    texts = [o["data"].get("text/plain", "") for c in nb.cells for o in c.outputs if "data" in o]
    # a 65 x 65 square (PIL's corners are inclusive) and a disc of radius 20 (about 1,300 px), apart: 8.5 % of 256 x 256
    assert any("mask painter, 256x256: 2 strokes, 8.5% painted" in t for t in texts), texts
    assert not any("0 stroke" in t for t in texts), texts
    html, _ = HTMLExporter(template_name="lab").from_notebook_node(nb)
    page_path = tmp_path / "tools.html"
    page_path.write_text(html, encoding="utf-8")
    with chromium_page() as page:
        page.goto(page_path.as_uri())
        copies = page.evaluate("""async () => [...document.querySelectorAll('.wisgate-slider-copy, .wisgate-painter-copy')]
            .map(c => ({cls: c.className, text: c.innerText, visible: c.getClientRects().length > 0,
                        images: [...c.querySelectorAll('img')].map(i => ({alt: i.alt, src: i.src.slice(0, 11)}))}))""")
        decoded = page.evaluate("""async () => Promise.all([...document.querySelectorAll('.wisgate-nb img')]
            .map(i => i.decode().then(() => i.naturalWidth > 0, () => false)))""")
        screenshot(page, "static-tools.png")
    slider, painter = [c for c in copies if "slider" in c["cls"]], [c for c in copies if "painter" in c["cls"]]
    assert len(slider) == 1 and len(painter) == 1, copies
    assert all(c["visible"] for c in copies) and decoded and all(decoded)
    assert [i["alt"] for i in slider[0]["images"]] == ["red fox", "blue fox"]
    assert all(i["src"] == "data:image/" for c in copies for i in c["images"])
    assert "2 strokes, 8.5% painted" in painter[0]["text"] and "red fox | blue fox" in slider[0]["text"]
    assert "<CompareSlider" not in page_path.read_text()  # the repr is not what the page shows
