"""What a user sees, measured in real headless Chromium: JupyterLab light and dark, and Notebook 7.

One Jupyter server, one notebook, several checks per page:
- every wisgate_nb text (outputs, the panel, its history tab, the reload note) has a contrast of at least
  4.5:1 against the background it is drawn on (computed colours, composited as the browser paints them);
- several prompts show side by side in the order typed; a result's caption sits under all its images;
- comparisons have every image of every result in the DOM, decoded;
- the panel's status says one thing; a reopened notebook (no kernel) still says what the panel made.
Screenshots go to test-artifacts/ (look-*.png).
"""

from __future__ import annotations

import json
import urllib.request

import nbformat
import pytest
from browser import CONTRASTS, chromium_page, jupyter_server, open_notebook, requires_browser, run_all, save, screenshot

pytestmark = [requires_browser, pytest.mark.timeout(420)]

MIN_CONTRAST = 4.5
PROMPTS = ["zebra crossing at night", "apple orchard in fog", "mango market at noon"]  # not alphabetical
CELLS = [
    "import wisgate_nb as wg\nwg.configure(demo=True, demo_latency=0.2)\n%load_ext wisgate_nb",
    "%%wisgate_image -s 1536x1024 -n 3\nthree lighthouses on a cliff",
    "%%wisgate_image -s 256x256\n" + "\n---\n".join(PROMPTS),
    'a = wg.generate("a red fox", size="256x256")\nb = wg.generate("a blue fox", size="256x256", n=2)\n'
    "wg.history().compare([a.id, b.id])",
    "%%wisgate_image -s 256x256 --bg\nsomething forbidden",
    "%wisgate_doctor",
    "%wisgate_history",
    "p = wg.panel()\np",
    'wg.configure(demo_latency=5)\nslow = p.generate("a very slow fox")\nslow.cancel()\np.wait(10)\n'
    "wg.configure(demo_latency=3)",
    "%%wisgate_image -s 256x256\na patient heron",
    "wg.configure(demo_latency=0.2)",
]
WAITING_CELL = 9

# The output area of code cell `index` (0-based over all cells: the notebook has only code cells).
BOXES = """([index, selector]) => {
    const cell = document.querySelectorAll('.jp-Notebook .jp-Cell')[index];
    return [...cell.querySelectorAll(selector)].map(e => {
        const r = e.getBoundingClientRect();
        return {left: r.left, top: r.top, right: r.right, bottom: r.bottom, text: e.innerText.trim().slice(0, 80),
                decoded: e.tagName === 'IMG' ? (e.complete && e.naturalWidth > 0) : null};
    });
}"""


def write_notebook(folder) -> str:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nbformat.write(nb, folder / "look.ipynb")
    return "look.ipynb"


def api(server, method: str, path: str, body: dict | None = None):
    request = urllib.request.Request(f"{server.base}{path}", method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Authorization": f"token {server.token}",
                                              "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        data = response.read()
    return json.loads(data) if data else None


def set_theme(server, theme: str) -> None:
    api(server, "PUT", "/lab/api/settings/@jupyterlab/apputils-extension:themes",
        {"raw": json.dumps({"theme": theme})})


def cell(page, index: int):
    return page.locator(".jp-Notebook .jp-Cell").nth(index)


def wait_for_outputs(page) -> None:
    """Every output this notebook makes is on the page (images decoded, the panel drawn)."""
    page.wait_for_function("""() => {
        const imgs = [...document.querySelectorAll('.jp-OutputArea-output img')];
        return imgs.filter(i => i.complete && i.naturalWidth > 0).length >= 9
            && document.querySelector('.wisgate-panel .wisgate-status') !== null
            && [...document.querySelectorAll('.wisgate-nb')].some(e => e.innerText.includes('moderation_blocked'));
    }""", timeout=90_000)


def low_contrast(page, where: str) -> tuple[list[dict], float, int]:
    measured = page.evaluate(CONTRASTS)
    assert len(measured) > 40, f"{where}: only {len(measured)} texts found"
    failing = [m for m in measured if m["ratio"] < MIN_CONTRAST]
    return failing, min(m["ratio"] for m in measured), len(measured)


def check_layout(page) -> None:
    # n=3: one figure, three images, the caption below all of them
    figures = page.evaluate(BOXES, [1, "figure.wisgate-result"])
    images = page.evaluate(BOXES, [1, "figure.wisgate-result img"])
    caption = page.evaluate(BOXES, [1, "figure.wisgate-result figcaption"])
    assert len(figures) == 1 and len(images) == 3 and all(i["decoded"] for i in images)
    assert caption[0]["top"] >= max(i["bottom"] for i in images) - 1
    assert max(i["top"] for i in images) - min(i["top"] for i in images) < 2  # one row of three (landscape) at 256 px
    assert all(abs((i["right"] - i["left"]) - 256) <= 1 for i in images)
    assert "three lighthouses" in caption[0]["text"]
    # several prompts: in the order typed, side by side on one row, each with its own caption
    columns = page.evaluate(BOXES, [2, "figure.wisgate-result"])
    assert [c["text"].split("\n")[0] for c in columns] == PROMPTS
    assert max(c["top"] for c in columns) - min(c["top"] for c in columns) < 2
    assert columns[0]["right"] <= columns[1]["left"] and columns[1]["right"] <= columns[2]["left"]
    assert page.evaluate(BOXES, [2, "figure.wisgate-result figcaption"]).__len__() == 3
    # the comparison: every image of both results (1 + 2), side by side
    compared = page.evaluate(BOXES, [3, "img"])
    assert len(compared) == 3 and all(i["decoded"] for i in compared)
    results = page.evaluate(BOXES, [3, "figure.wisgate-result"])
    assert len(results) == 2 and results[0]["right"] <= results[1]["left"]
    # the doctor's table reads left to right
    cells = page.evaluate("""() => [...document.querySelectorAll('.jp-Notebook .jp-Cell')[5]
        .querySelectorAll('td, th')].map(c => getComputedStyle(c).textAlign)""")
    assert cells and set(cells) <= {"left", "start"}, cells


def check_waiting_line(page) -> None:
    """While the blocking magic waits (3 s): a live line that moves on; then the result in its place."""
    line = cell(page, WAITING_CELL).locator(".wisgate-waiting")
    line.wait_for(timeout=90_000)
    first = line.inner_text()
    assert "a patient heron" in first and "256x256" in first and "n=1" in first
    page.wait_for_function(f"""() => {{
        const l = document.querySelectorAll('.jp-Notebook .jp-Cell')[{WAITING_CELL}].querySelector('.wisgate-waiting');
        return l && /[12]\\.0 s/.test(l.innerText); }}""", timeout=10_000)
    cell(page, WAITING_CELL).locator("img").first.wait_for(timeout=30_000)
    assert cell(page, WAITING_CELL).locator(".wisgate-waiting").count() == 0
    assert cell(page, WAITING_CELL).locator(".jp-OutputArea-output").count() == 1  # only the result


def use_the_panel(page) -> None:
    panel = page.locator(".wisgate-panel")
    panel.scroll_into_view_if_needed()
    status = panel.locator(".wisgate-panel-status")
    assert page.locator("button.wisgate-cancel").is_disabled()  # nothing runs
    panel.locator(".wisgate-prompt textarea").fill("something forbidden")
    panel.locator("button.wisgate-generate").click()
    status.filter(has_text="safety filter").wait_for(timeout=30_000)
    panel.locator(".wisgate-prompt textarea").fill("a calm sea at dawn")
    panel.locator("button.wisgate-generate").click()
    status.filter(has_text="done:").wait_for(timeout=30_000)
    assert "safety filter" not in status.inner_text() and status.inner_text().count("\n") == 0
    page.wait_for_function("""() => [...document.querySelectorAll('.wisgate-gallery img')]
        .filter(i => i.complete && i.naturalWidth > 0).length >= 1""", timeout=30_000)
    # the history tab: every row, cancelled ones too; compare two results
    panel.locator(".wisgate-tabs button", has_text="History").click()
    rows = panel.locator(".wisgate-history-row")
    rows.first.wait_for(timeout=10_000)
    assert rows.count() >= 6
    panel.locator(".wisgate-history input[type=checkbox]").nth(0).check()
    panel.locator(".wisgate-history input[type=checkbox]").nth(1).check()
    panel.locator(".wisgate-history button", has_text="Compare").click()
    panel.locator(".wisgate-compare img").first.wait_for(timeout=10_000)
    assert panel.locator(".wisgate-compare-cell").count() == 2


def test_light_dark_and_notebook_7(tmp_path):
    name = write_notebook(tmp_path)
    env = {"WISGATE_HISTORY_DIR": str(tmp_path / "runs"), "WISGATE_API_KEY": "", "WISDOM_GATE_KEY": ""}
    report: dict[str, tuple] = {}
    with jupyter_server("lab", tmp_path, env=env) as server, chromium_page(viewport={"width": 1400, "height": 1100}) as page:
        try:
            open_notebook(page, server, name)
            run_all(page)
            check_waiting_line(page)
            wait_for_outputs(page)
            check_layout(page)
            use_the_panel(page)
            note = page.locator(".wisgate-reload-note")
            assert note.count() == 1 and not note.is_visible()  # hidden while the panel is live
            report["lab light"] = low_contrast(page, "JupyterLab light")
            screenshot(page, "look-lab-light.png")
            save(page, tmp_path / name)

            notebook7 = server.notebook_url(name).replace("/lab/tree/", "/notebooks/")
            page.goto(notebook7)
            wait_for_outputs(page)
            page.locator(".wisgate-panel .wisgate-tabs button", has_text="History").first.click()
            report["notebook 7"] = low_contrast(page, "Notebook 7")
            screenshot(page, "look-notebook7.png")

            set_theme(server, "JupyterLab Dark")
            page.goto(server.notebook_url(name))
            page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'", timeout=60_000)
            wait_for_outputs(page)
            page.locator(".wisgate-panel .wisgate-tabs button", has_text="History").first.click()
            report["lab dark"] = low_contrast(page, "JupyterLab dark")
            screenshot(page, "look-lab-dark.png")

            # no kernel: the saved notebook, reopened, still says what the panel made
            for session in api(server, "GET", "/api/sessions"):
                api(server, "DELETE", f"/api/sessions/{session['id']}")
            page.goto(server.notebook_url(name))
            page.locator(".wisgate-reload-note").wait_for(timeout=60_000)
            note = page.locator(".wisgate-reload-note")
            assert note.is_visible() and "a calm sea at dawn" in note.inner_text()
            assert "run this cell again" in note.inner_text()
            assert page.locator(".wisgate-panel").count() == 0
            report["lab dark, reopened"] = low_contrast(page, "JupyterLab dark, no kernel")
            screenshot(page, "look-lab-dark-reopened.png")
        except Exception:
            screenshot(page, "look-failure.png")
            print(server.log()[-5000:])
            raise
    summary = {where: (f"min {low:.2f}", f"{count} texts") for where, (_, low, count) in report.items()}
    print("contrast:", summary)
    failing = {where: found[:8] for where, (found, _, _) in report.items() if found}
    print("failing:", json.dumps(failing, indent=1))
    assert not failing, failing


