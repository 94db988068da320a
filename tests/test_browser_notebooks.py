"""The quickstart in a real browser: JupyterLab 4 and Notebook 7 in headless Debian Chromium.

What only a browser can show: Run All fills the outputs with images the browser decodes; the saved
file, reopened by another server (no kernel run, no trust from the first one) still shows them; and a
prompt full of HTML is shown as text and runs nothing. Screenshots go to test-artifacts/ (magic.png
is the README's; tools/update_screenshots.py copies it to docs/).
"""

from __future__ import annotations

import json
import shutil
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest
from browser import ARTIFACTS, chromium_page, jupyter_server, requires_browser, save, screenshot

pytestmark = [requires_browser, pytest.mark.timeout(240)]

REPO = Path(__file__).resolve().parent.parent
QUICKSTART = REPO / "notebooks" / "01_quickstart.ipynb"
XSS_PROMPT = 'A cat <img src=x onerror="window.__xss=1"> <script>window.__xss=2</script> on a mat'
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}

# Every <img> with an embedded image inside an output area, and whether the browser decoded it.
OUTPUT_IMAGES = """() => [...document.querySelectorAll('.jp-OutputArea-output img')]
    .filter(img => img.src.startsWith('data:image/'))
    .map(img => img.complete && img.naturalWidth > 0)"""

# The images of the options cell are laid out by the grid's inline styles (a flex row of figures at
# thumbnail width): an untrusted notebook's HTML is sanitized, and must still look the same.
GRID_STYLED = """() => {
    const imgs = [...document.querySelectorAll('.jp-OutputArea-output img[alt^="A futuristic city skyline"]')];
    if (imgs.length) imgs[0].scrollIntoView({block: 'center'});
    return imgs.length === 2 && imgs.every(img => {
        const figure = img.closest('figure');
        return figure && getComputedStyle(figure.parentElement).display === 'flex'
            && getComputedStyle(figure).maxWidth.endsWith('px') && img.getBoundingClientRect().width > 150;
    });
}"""


def expected_images(nb) -> int:
    """Images the quickstart shows when run: one per image in each cell tagged expect-images."""
    count = 0
    for cell in nb.cells:
        if "expect-images" in cell.metadata.get("tags", []):
            for output in cell.get("outputs", []):
                count += "".join(output.get("data", {}).get("text/html", "")).count("<img")
    return count


def prepare(folder: Path) -> int:
    """A copy of the quickstart with no outputs (so images can only come from running it), and a notebook
    whose prompt is an XSS attempt. Returns how many images the quickstart should show."""
    nb = nbformat.read(QUICKSTART, as_version=4)
    images = expected_images(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nbformat.write(nb, folder / "quickstart.ipynb")
    xss = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("import wisgate_nb as wg\nwg.configure(demo=True)\n%load_ext wisgate_nb"),
        nbformat.v4.new_code_cell(f"%%wisgate_image\n{XSS_PROMPT}"),
    ])
    xss.metadata["kernelspec"] = KERNELSPEC
    nbformat.write(xss, folder / "xss.ipynb")
    return images


def open_notebook(page, server, name: str, *, wait_kernel: bool = True) -> None:
    page.goto(server.notebook_url(name))
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
    if wait_kernel:
        wait_kernel_idle(server, name)


def wait_kernel_idle(server, name: str, timeout: float = 60.0) -> None:
    """The kernel of notebook `name` has started and is idle (from the server's REST API: works for both
    front ends, and tells this notebook's kernel from the others')."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"{server.base}/api/sessions?token={server.token}", timeout=5) as response:
            sessions = json.load(response)
        states = [s["kernel"]["execution_state"] for s in sessions if s.get("path") == name and s.get("kernel")]
        if states == ["idle"]:
            return
        time.sleep(0.25)
    raise TimeoutError(f"the kernel of {name} was not idle after {timeout} s:\n{server.log()[-3000:]}")


def run_all(page) -> None:
    """Run → Run All Cells, from the menu bar (the same in JupyterLab 4 and Notebook 7)."""
    page.locator(".lm-MenuBar-item", has_text="Run").first.click()
    page.locator(".lm-Menu-item:visible", has_text="Run All Cells").first.click()


def wait_for_images(page, count: int, timeout_ms: float = 90_000) -> list[bool]:
    page.wait_for_function(f"() => ({OUTPUT_IMAGES})().filter(Boolean).length >= {count}", timeout=timeout_ms)
    return page.evaluate(OUTPUT_IMAGES)


def check_xss(page, server) -> None:
    open_notebook(page, server, "xss.ipynb")
    run_all(page)
    caption = page.locator(".jp-OutputArea-output figcaption", has_text="<script>window.__xss=2</script>")
    caption.first.wait_for(timeout=60_000)
    assert '<img src=x onerror="window.__xss=1">' in caption.first.inner_text()
    wait_for_images(page, 1)
    assert page.evaluate("() => window.__xss") is None, "a prompt ran script in the page"
    save(page, server.root_dir / "xss.ipynb")


def magic_screenshot(page, name: str) -> Path:
    """The options cell (two images side by side) and the cells around it."""
    cell = page.locator('.jp-Cell:has(img[alt^="A futuristic city skyline"])').first
    cell.evaluate("el => el.scrollIntoView({block: 'start'})")
    page.wait_for_timeout(300)
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path))
    return path


@pytest.mark.parametrize("kind", ["lab", "notebook"])
def test_quickstart_runs_saves_and_reopens_with_images(kind, tmp_path):
    expected = prepare(tmp_path)
    assert expected >= 8
    env = {"WISGATE_DEMO": "1", "WISGATE_API_KEY": "", "WISDOM_GATE_KEY": ""}

    with jupyter_server(kind, tmp_path, env=env) as server, chromium_page() as page:
        try:
            open_notebook(page, server, "quickstart.ipynb")
            run_all(page)
            decoded = wait_for_images(page, expected)
            assert all(decoded) and len(decoded) >= expected
            page.locator(".jp-OutputArea-output table.dataframe").last.wait_for(timeout=60_000)
            page.wait_for_function(GRID_STYLED, timeout=10_000)
            shot = magic_screenshot(page, f"magic-{kind}.png")
            if kind == "notebook":  # the README's screenshot (tools/update_screenshots.py)
                shutil.copy(shot, ARTIFACTS / "magic.png")
            save(page, tmp_path / "quickstart.ipynb")
            check_xss(page, server)
        except Exception:
            screenshot(page, f"quickstart-{kind}-failure.png")
            print(server.log()[-5000:])
            raise

    saved = nbformat.read(tmp_path / "quickstart.ipynb", as_version=4)
    assert expected_images(saved) >= expected
    assert str(tmp_path) not in nbformat.writes(saved), "an absolute path was saved in the notebook"

    # A new server (its own notebook secret: the file is not trusted there), no cell run.
    with jupyter_server(kind, tmp_path, env=env) as server, chromium_page() as page:
        try:
            open_notebook(page, server, "quickstart.ipynb", wait_kernel=False)
            decoded = wait_for_images(page, expected, timeout_ms=30_000)
            assert all(decoded)
            page.wait_for_function(GRID_STYLED, timeout=10_000)
            prompts = page.locator(".jp-InputArea-prompt").all_inner_texts()
            assert not any("*" in p for p in prompts), "a cell was run on reopening"
            magic_screenshot(page, f"reopened-{kind}.png")
            open_notebook(page, server, "xss.ipynb", wait_kernel=False)
            page.locator(".jp-OutputArea-output figcaption", has_text="onerror=").first.wait_for(timeout=30_000)
            assert page.evaluate("() => window.__xss") is None
        except Exception:
            screenshot(page, f"reopened-{kind}-failure.png")
            print(server.log()[-5000:])
            raise
