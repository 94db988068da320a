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
