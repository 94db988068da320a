"""Accessibility in real headless Chromium: axe-core over wisgate_nb's own DOM, and keyboard-only use.

One notebook holds every kind of output (the magic's results, a comparison, a sweep's table, the compare
slider, the mask painter, the panel with its History tab and a comparison in it). It is opened in
JupyterLab (light, then dark) and in Notebook 7; on each page axe-core (npm, see README "Quick start")
runs over our DOM only and must find no critical or serious violation. Then the panel and the painter
are used with the keyboard alone. Screenshots go to test-artifacts/ (access-*.png).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from browser import chromium_page, jupyter_server, open_notebook, requires_browser, run_all, save, screenshot, write_notebook
from test_browser_look import api, set_theme

pytestmark = [requires_browser, pytest.mark.timeout(600)]

NODE_DIR = Path(os.environ.get("WISGATE_NODE_DIR", Path.home() / ".cache" / "wisgate_nb" / "node"))
AXE = NODE_DIR / "node_modules" / "axe-core" / "axe.min.js"
OURS = [".wisgate-nb", ".wisgate-panel", ".wisgate-slider", ".wisgate-painter"]
CELLS = [
    "import wisgate_nb as wg\nwg.configure(demo=True, demo_latency=0.1)\n%load_ext wisgate_nb",
    "%%wisgate_image -s 256x256 -n 2\ntwo lighthouses on a cliff",
    'wg.sweep(prompts=["a fox", "a cat"], size=["256x256", "512x512"])',
    'a = wg.generate("a red fox", size="256x256")\nb = wg.generate("a red fox", size="256x256", quality="low")\n'
    "wg.history().compare([a.id, b.id])",
    'wg.compare_slider(a, b, labels=("medium", "low"))',
    "painter = wg.mask_painter(a, brush=30)\npainter",
    "p = wg.panel()\np.generate('a calm sea at dawn', n=2)\np.wait(30)\np",
]
PANEL_CELL = 6
RUN_AXE = """async (selectors) => {
    const include = selectors.flatMap(s => [...document.querySelectorAll(s)]).filter(
        e => !e.parentElement.closest(selectors.join(',')));
    const found = await axe.run({include}, {resultTypes: ['violations']});
    return {roots: include.length, violations: found.violations.map(v => ({
        id: v.id, impact: v.impact, help: v.help,
        nodes: v.nodes.map(n => ({target: n.target.join(' '), html: n.html.slice(0, 160),
                                  why: n.failureSummary.slice(0, 300)}))}))};
}"""


def axe_violations(page, where: str) -> list[dict]:
    """axe-core's critical and serious violations in our DOM (all of it printed, for the log)."""
    if not page.evaluate("() => typeof axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    found = page.evaluate(RUN_AXE, OURS)
    assert found["roots"] >= 6, f"{where}: only {found['roots']} of our outputs on the page"
    print(where, [(v["id"], v["impact"], len(v["nodes"])) for v in found["violations"]])
    return [v for v in found["violations"] if v["impact"] in ("critical", "serious")]


def wait_for_everything(page) -> None:
    page.wait_for_function("""() => {
        const imgs = [...document.querySelectorAll('.jp-OutputArea-output img')];
        return imgs.filter(i => i.complete && i.naturalWidth > 0).length >= 12
            && document.querySelector('.wisgate-panel .wisgate-gallery img') !== null
            && document.querySelector('.wisgate-painter canvas') !== null
            && document.querySelector('.wisgate-slider') !== null;
    }""", timeout=120_000)


def check(page, where: str) -> list[dict]:
    """axe over our DOM twice: the Generate tab with "more options" open, then the History tab comparing two."""
    panel = page.locator(".wisgate-panel")
    more = panel.locator("button.wisgate-more-options")
    if "mod-active" not in (more.get_attribute("class") or ""):
        more.click()
    panel.locator(".widget-dropdown", has_text="moderation").wait_for(timeout=10_000)
    found = axe_violations(page, f"{where}, Generate tab")
    panel.locator(".wisgate-tabs button", has_text="History").first.click()
    boxes = panel.locator(".wisgate-history input[type=checkbox]")
    boxes.nth(0).wait_for(timeout=10_000)
    boxes.nth(0).check()
    boxes.nth(1).check()
    panel.locator(".wisgate-history button", has_text="Compare").click()
    panel.locator(".wisgate-compare-cell, .wisgate-compare .wisgate-slider").first.wait_for(timeout=10_000)
    found += axe_violations(page, f"{where}, History tab")
    panel.locator(".wisgate-tabs button", has_text="Generate").first.click()
    return found


def test_no_serious_axe_violation_in_lab_light_dark_and_notebook_7(tmp_path):
    assert AXE.exists(), f"axe-core is needed: npm install --prefix {NODE_DIR} axe-core@4 (.ci/run installs it)"
    name = write_notebook(tmp_path, "access.ipynb", CELLS)
    env = {"WISGATE_HISTORY_DIR": str(tmp_path / "runs"), "WISGATE_API_KEY": "", "WISDOM_GATE_KEY": ""}
    report: dict[str, list] = {}
    with jupyter_server("lab", tmp_path, env=env) as server, chromium_page(viewport={"width": 1400, "height": 1100}) as page:
        try:
            open_notebook(page, server, name)
            run_all(page)
            wait_for_everything(page)
            copies = page.locator(".wisgate-slider-copy, .wisgate-painter-copy")  # static copies: hidden while live
            assert copies.count() == 2 and not copies.first.is_visible() and not copies.last.is_visible()
            report["lab light"] = check(page, "JupyterLab light")
            screenshot(page, "access-lab-light.png")
            save(page, tmp_path / name)

            page.goto(server.notebook_url(name).replace("/lab/tree/", "/notebooks/"))
            wait_for_everything(page)
            report["notebook 7"] = check(page, "Notebook 7")

            set_theme(server, "JupyterLab Dark")
            page.goto(server.notebook_url(name))
            page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'", timeout=60_000)
            wait_for_everything(page)
            report["lab dark"] = check(page, "JupyterLab dark")
            screenshot(page, "access-lab-dark.png")
        except Exception:
            screenshot(page, "access-failure.png")
            print(server.log()[-5000:])
            raise
    failing = [f"{where}: {v['id']} ({v['impact']}) {n['html']} -- {n['why']}"
               for where, found in report.items() for v in found for n in v["nodes"]]
    assert not failing, "\n".join(failing)


# -- the keyboard alone ---------------------------------------------------------------------------------------

KEYBOARD_CELLS = [
    "import wisgate_nb as wg\nwg.configure(demo=True, demo_latency=0.1)",
    'a = wg.generate("a red fox", size="256x256")\np = wg.panel()\np',
    "painter = wg.mask_painter(a, brush=30)\npainter",
    'print("sent:", [(s.request.prompt, s.request.body.get("moderation")) for s in p.slots])\n'
    'print("strokes:", [(s["kind"], s["erase"], s["points"]) for s in painter.strokes])',
]
PROBE_CELL = 3


def tab_to(page, selector: str, key: str = "Tab", limit: int = 40, text: str = "") -> None:
    """Press Tab (or Shift+Tab) until the focused element matches ``selector`` (and its field says ``text``)."""
    for _ in range(limit):
        page.keyboard.press(key)
        if page.evaluate("""([s, t]) => { const e = document.activeElement;
                return e && e.matches(s) && (e.closest('.widget-inline-hbox, button') || e).innerText.includes(t); }""",
                         [selector, text]):
            return
    focused = page.evaluate("() => document.activeElement.outerHTML.slice(0, 200)")
    raise AssertionError(f"{key} never reached {selector} (now on {focused})")


def walk_the_panel(page) -> None:
    """Prompt, "more options" (a moderation value), Generate, the History tab, two rows, Compare: keys only."""
    panel = page.locator(".wisgate-panel")
    panel.locator(".wisgate-prompt textarea").focus()  # the starting point; every step after it is a key
    page.keyboard.type("a lighthouse typed on the keyboard")
    tab_to(page, ".wisgate-panel .wisgate-more-options")
    page.keyboard.press("Space")
    panel.locator(".widget-dropdown", has_text="moderation").wait_for(timeout=10_000)
    tab_to(page, ".wisgate-panel select", text="moderation")
    page.keyboard.type("low")  # a closed select picks the choice typed
    page.wait_for_function("() => [...document.querySelectorAll('.wisgate-panel select')].some(s => s.value && "
                           "s.selectedOptions[0].textContent === 'low')")
    tab_to(page, ".wisgate-panel button.wisgate-generate")
    page.keyboard.press("Enter")
    panel.locator(".wisgate-slot-status", has_text="1 of 1 image").wait_for(timeout=30_000)
    tab_to(page, ".wisgate-panel .wisgate-tabs button", key="Shift+Tab", limit=60, text="History")
    page.keyboard.press("Enter")
    rows = panel.locator(".wisgate-history .widget-checkbox")
    rows.nth(1).wait_for(timeout=10_000)
    for _ in range(2):
        tab_to(page, ".wisgate-history input[type=checkbox]:not(:checked)")
        page.keyboard.press("Space")
    tab_to(page, ".wisgate-history button", key="Shift+Tab", text="Compare")
    page.keyboard.press("Enter")
    panel.locator(".wisgate-compare .wisgate-slider, .wisgate-compare-cell").first.wait_for(timeout=10_000)


def mark_a_region(page) -> None:
    """In the painter: Tab to the image, move the rectangle right twice, make it taller twice, Enter paints it."""
    page.locator(".wisgate-painter button[data-action=brush]").focus()
    tab_to(page, ".wisgate-painter canvas")
    assert page.locator(".wisgate-painter-keybox").is_visible()
    for key in ("ArrowRight", "ArrowRight", "Shift+ArrowDown", "Shift+ArrowDown", "Enter"):
        page.keyboard.press(key)
    page.locator(".wisgate-painter-status", has_text="1 stroke").wait_for(timeout=10_000)
    # the static copy a saved notebook keeps (hidden while the painter is live) says it too
    page.wait_for_function("() => document.querySelector('.wisgate-painter-copy').textContent.includes('1 stroke,')")


def reopen_without_kernel(page, server, path) -> None:
    """Saved, the kernel gone, reopened: the painter's static copy shows the stroke made with the keys."""
    save(page, path)
    for session in api(server, "GET", "/api/sessions"):
        api(server, "DELETE", f"/api/sessions/{session['id']}")
    page.goto(server.notebook_url(path.name))
    copy = page.locator(".wisgate-painter-copy")
    copy.wait_for(timeout=60_000)  # visible: no live painter hides it
    assert "1 stroke, " in copy.inner_text()
    page.wait_for_function("() => [...document.querySelectorAll('.wisgate-painter-copy img')]"
                           ".some(i => i.complete && i.naturalWidth > 0)")
    screenshot(page, "access-keys-reopened.png")


def test_the_panel_and_the_painter_with_the_keyboard_alone(tmp_path):
    for kind in ("lab", "notebook"):
        folder = tmp_path / kind
        folder.mkdir()
        name = write_notebook(folder, "keys.ipynb", KEYBOARD_CELLS)
        env = {"WISGATE_HISTORY_DIR": str(folder / "runs"), "WISGATE_API_KEY": "", "WISDOM_GATE_KEY": ""}
        with jupyter_server(kind, folder, env=env) as server, chromium_page() as page:
            try:
                open_notebook(page, server, name)
                run_all(page)
                page.locator(".wisgate-painter canvas").wait_for(timeout=60_000)
                page.locator(".wisgate-panel .wisgate-prompt").wait_for(timeout=60_000)
                walk_the_panel(page)
                mark_a_region(page)
                probe = page.locator(".jp-Notebook .jp-Cell").nth(PROBE_CELL)
                probe.locator(".jp-InputArea-editor").click()
                page.keyboard.press("Shift+Enter")
                out = probe.locator(".jp-OutputArea-output", has_text="strokes:")
                out.wait_for(timeout=30_000)
                text = out.inner_text()
                screenshot(page, f"access-keys-{kind}.png")
                if kind == "lab":
                    reopen_without_kernel(page, server, folder / name)
            except Exception:
                screenshot(page, f"access-keys-{kind}-failure.png")
                print(server.log()[-5000:])
                raise
        # Python got what the keys did: the typed prompt with moderation "low"; a 64 x 64 rectangle moved
        # right by two steps of 13 px and made 26 px taller (a 256 x 256 image)
        assert "('a lighthouse typed on the keyboard', 'low')" in text, text
        assert "('rect', False, [[122, 96], [186, 186]])" in text, text


# -- a page reloaded on a running kernel -------------------------------------------------------------------------

def test_the_history_tab_switches_after_a_page_reload_in_default_windowing(tmp_path):
    """JupyterLab's default windowing ("contentVisibility") and a panel in the last cell of a long notebook: after
    a reload on the running kernel, an ipywidgets Tab drawn off screen never switched again (its tab bar got no
    listeners); re-running the cell was the only way back. The panel's Generate | History buttons do switch."""
    cells = ['import wisgate_nb as wg\nwg.configure(demo=True, demo_latency=0.1)\np = wg.panel()\n'
             'p.generate("a calm sea at dawn", size="256x256")\np.wait(30)']
    cells += [f"print({i})\n" * 30 for i in range(25)] + ["p"]
    name = write_notebook(tmp_path, "long.ipynb", cells)
    with jupyter_server("lab", tmp_path, env={"WISGATE_HISTORY_DIR": str(tmp_path / "runs")}) as server, \
            chromium_page() as page:
        try:
            api(server, "PUT", "/lab/api/settings/@jupyterlab/notebook-extension:tracker",
                {"raw": json.dumps({"autoStartDefaultKernel": True})})  # JupyterLab's own windowing mode
            open_notebook(page, server, name)
            run_all(page)
            page.locator(".wisgate-panel .wisgate-gallery img").wait_for(state="attached", timeout=60_000)
            save(page, tmp_path / name)
            page.reload()
            panel = page.locator(".wisgate-panel")
            panel.wait_for(state="attached", timeout=60_000)
            panel.scroll_into_view_if_needed()
            for shown in ("History", "Generate", "History"):
                panel.locator(".wisgate-tabs button", has_text=shown).click()
                history = panel.locator(".wisgate-history")
                history.wait_for(state="visible" if shown == "History" else "hidden", timeout=10_000)
            panel.locator(".wisgate-history .widget-checkbox").first.wait_for(timeout=10_000)
        except Exception:
            screenshot(page, "access-reload-failure.png")
            print(server.log()[-5000:])
            raise
