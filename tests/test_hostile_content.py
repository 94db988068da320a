"""Hostile content — prompts, tags, template fields and server strings carrying HTML/JS — is inert in
every HTML output: the grid, the history table, comparisons, the contact sheet, error cards, the dry
run, the doctor, the DataFrame and every HTML widget of the panel.

"Inert" means no element or attribute that runs code (script, iframe, svg, event handlers,
javascript: URLs) and the hostile text still visible, as text. (The grid is also checked in a real
browser, in test_browser_notebooks.py.)
"""

from __future__ import annotations

import dataclasses
import json

import ipywidgets as widgets
import pytest
from IPython.utils.capture import capture_output
from reliability_helpers import HOSTILE, assert_inert, image_bytes, inspect_html

import wisgate_nb
from wisgate_nb import templates
from wisgate_nb.core.doctor import Report
from wisgate_nb.core.plans import DryRun
from wisgate_nb.core.session import Session
from wisgate_nb.emulator import Fault
from wisgate_nb.output import html as render
from wisgate_nb.output.thumbnails import thumbnail_bytes
from wisgate_nb.records import Generation, History, Record, now_iso
from wisgate_nb.records import files as history_files


def prompt_for(payload: str) -> str:
    return f"a red fox {payload}"


@pytest.mark.parametrize("payload", HOSTILE[:7])
def test_the_checker_catches_each_payload_when_it_is_not_escaped(payload):
    """The inertness check itself: unescaped, each payload is active content (in text or in an attribute)."""
    raw = [f"<div>{payload}</div>", f"<img alt='{payload}' src='data:image/png;base64,AA'>",
           f'<img alt="{payload}" src="data:image/png;base64,AA">']
    assert any(inspect_html(html).problems for html in raw), payload
    result = render.Result((render.Tile("data:image/png;base64,AA", href=payload, alt=payload),), (payload,), payload)
    assert not inspect_html(render.result_html(result, 256)).problems


@pytest.fixture
def hostile_history(session, server):
    """A session whose history holds, for every payload, a success (prompt, tag) and a server error."""
    session.config.max_retries = 0
    generations = []
    for i, payload in enumerate(HOSTILE):
        model = "gpt-image-2" if i % 2 else f"gpt-image-2 {payload}"  # a hostile model name varies the columns
        generations.append(wisgate_nb.generate(prompt_for(payload), size="64x64", model=model, tags=[payload]))
    for payload in HOSTILE[:3]:
        server.emulator.schedule(Fault("status", 400, message=f"refused: {payload}"))
        with pytest.raises(wisgate_nb.BadRequestError):
            wisgate_nb.generate(f"a grey wolf {payload}", size="64x64")
    server.emulator.schedule(Fault("stream_error", message=f"stream broke: {HOSTILE[0]}"))
    with pytest.raises(wisgate_nb.InternalServerError):
        wisgate_nb.generate("a streamed heron", size="64x64", stream=True)
    return session.history, generations


def test_generation_grid_is_inert(hostile_history):
    _, generations = hostile_history
    for generation, payload in zip(generations, HOSTILE):
        for html in (generation.html(), generation._repr_html_(), generation._repr_mimebundle_()[0]["text/html"]):
            assert_inert(html, shown=[prompt_for(payload), "tags: " + payload])
        # the metadata travels as JSON next to the HTML: it must stay data
        assert json.loads(json.dumps(generation.metadata()))["prompt"] == prompt_for(payload)


def test_history_table_is_inert(hostile_history):
    history, _ = hostile_history
    html = history._repr_html_()
    assert_inert(html, shown=[prompt_for(p) for p in HOSTILE] + [f"refused: {p}" for p in HOSTILE[:3]]
                 + [f"stream broke: {HOSTILE[0]}"])
    assert html.count("<tr") == len(history) + 1


def test_comparison_is_inert(hostile_history):
    history, _ = hostile_history
    comparison = history.compare()
    assert "model" in comparison.keys  # the hostile model names are column labels
    assert_inert(comparison._repr_html_(), shown=[prompt_for(p) for p in HOSTILE] + [f"model=gpt-image-2 {HOSTILE[0]}"])


def test_contact_sheet_is_inert(hostile_history, tmp_path):
    history, _ = hostile_history
    page = history.contact_sheet(tmp_path / "sheet.html", title=f"class of 2026 {HOSTILE[0]}").read_text()
    assert page.startswith("<!DOCTYPE html>")
    assert_inert(page, shown=[prompt_for(p) for p in HOSTILE] + [f"class of 2026 {HOSTILE[0]}"])


def test_history_magic_output_is_inert(hostile_history, shell):
    """%wisgate_history's table (ours; History.df's HTML is pandas' own and not tested here)."""
    with capture_output() as captured:
        shell.run("%wisgate_history")
    (output,) = [o.data["text/html"] for o in captured.outputs]
    assert_inert(output, shown=[prompt_for(p)[:100] for p in HOSTILE])


def test_error_card_status_line_dry_run_and_doctor_are_inert(session):
    for payload in HOSTILE:
        assert_inert(render.error_card_html(f"BadRequestError {payload}", f"HTTP 400: {payload}"),
                     shown=[f"BadRequestError {payload}", f"HTTP 400: {payload}"])
        assert_inert(render.status_html(f"generating: {payload}"), shown=[f"generating: {payload}"])
        dry = DryRun.of(session.prepare(prompt_for(payload), size="64x64", user=payload))
        assert_inert(dry._repr_html_(), shown=[f"prompt: {prompt_for(payload)}"])
        report = Report([("history folder", f"/home/student/{payload}"), (payload, "value")])
        assert_inert(report._repr_html_(), shown=[f"/home/student/{payload}", payload])


def test_crafted_server_strings_are_inert_everywhere(tmp_path):
    """Fields only a (compromised or buggy) server controls: revised prompt, size, quality, request id."""
    history = History.create(tmp_path / "runs", session="hostile")
    payload_of = dict(enumerate(HOSTILE))
    records = []
    for i, payload in payload_of.items():
        rid = f"{i:02d}0000-aaaaaa"
        full = history_files.write(history, history_files.image_name(rid, 0, "png"), image_bytes((64, 64)))
        thumb_data, _ = thumbnail_bytes(full.read_bytes(), 64)
        thumb = full.with_name(f"{full.stem}.thumb.jpg")
        thumb.write_bytes(thumb_data)
        record = Record(id=rid, session="hostile", started_at=now_iso(), prompt=f"a calm lake {i}",
                        model=f"model-{i} {payload}", status="ok", size=f"64x64 {payload}",
                        quality=f"high {payload}", params={"quality": payload, "style": payload}, latency_s=1.5,
                        images=1, paths=(full.name,), thumbs=(thumb.name,), request_id=f"req_{payload}",
                        tags=(payload,), rating=3, note=payload, revised_prompts=(f"revised {payload}",),
                        profile=f"profile {payload}", group="g",
                        template={"name": "shot", "version": 1, "fields": {"subject": payload}})
        records.append(history.append(record))
    error = Record(id="990000-bbbbbb", session="hostile", started_at=now_iso(), prompt=HOSTILE[1], model="m",
                   status="error", error=f"HTTP 500: {HOSTILE[0]}", error_type="InternalServerError",
                   request_id=f"req_{HOSTILE[2]}")
    history.append(error)

    for record, payload in zip(records, HOSTILE):
        generation = Generation(record, tuple(history.full_paths(record)), tuple(history.thumb_paths(record)))
        assert_inert(generation.html(), shown=[f"revised {payload}", f"64x64 {payload}", f"profile {payload}"])
    assert_inert(history._repr_html_(), shown=[HOSTILE[1], f"error: HTTP 500: {HOSTILE[0]}"])
    sheet = history.contact_sheet(tmp_path / "sheet.html").read_text()
    assert_inert(sheet, shown=[f"revised {p}" for p in HOSTILE])
    assert_inert(history.compare()._repr_html_(), shown=[f"subject={HOSTILE[0]}"])
    assert_inert(history.compare(by="style")._repr_html_(), shown=[f"style={p}" for p in HOSTILE])
    reloaded = History.load(tmp_path / "runs" / "hostile")
    assert [dataclasses.asdict(r) for r in reloaded] == [dataclasses.asdict(r) for r in history]


def test_templates_with_hostile_field_values_are_inert(session, server, tmp_path):
    templates.set_file(tmp_path / "wisgate_templates.toml")
    try:
        templates.save("shot", "{subject} on a {background} background", background="white")
        for payload in HOSTILE[:4]:
            wisgate_nb.generate(template="shot", subject=payload, size="64x64")
        comparison = session.history.compare()
        assert "subject" in comparison.keys
        assert_inert(comparison._repr_html_(), shown=[f"subject={p}" for p in HOSTILE[:4]])
        assert_inert(session.history._repr_html_(), shown=[f"{p} on a white background" for p in HOSTILE[:4]])
    finally:
        templates.set_file(None)


def _displayed_html(outputs) -> list[str]:
    return [o.data["text/html"] for o in outputs if "text/html" in o.data]


def test_magic_outputs_are_inert(shell, session, server):
    shell.ns["subject"] = HOSTILE[0]
    cells = [
        "%%wisgate_image --size 64x64 --tag '<b onmouseover=alert(1)>t</b>'\na fox {subject}",
        f"%%wisgate_image --size 64x64\n{HOSTILE[1]}\n---\n{HOSTILE[2]}",
        f"%%wisgate_image --size 64x64 --dry-run\n{HOSTILE[3]}",
        "%wisgate_history",
        "%wisgate_history compare --last 3",
    ]
    shown = {0: [f"a fox {HOSTILE[0]}"], 1: [HOSTILE[1], HOSTILE[2]], 2: [HOSTILE[3]], 3: [HOSTILE[1]],
             4: [HOSTILE[2]]}
    for i, cell in enumerate(cells):
        with capture_output() as captured:
            shell.run(cell)
        (html, *_) = _displayed_html(captured.outputs)
        assert_inert(html, shown=shown[i])
    server.emulator.schedule(Fault("status", 400, message=f"no: {HOSTILE[4]}"))
    with pytest.raises(wisgate_nb.BadRequestError) as info:
        shell.run("%%wisgate_image --size 64x64\na hen")
    assert_inert(render.error_card_html(type(info.value).__name__, str(info.value)), shown=[f"no: {HOSTILE[4]}"])


# ---- the panel -----------------------------------------------------------------------------------


def _html_widgets(root) -> list[widgets.Widget]:
    """Every widget under ``root`` (children, recursively)."""
    found, stack, seen = [], [root], set()
    while stack:
        widget = stack.pop()
        if id(widget) in seen:
            continue
        seen.add(id(widget))
        found.append(widget)
        stack.extend(getattr(widget, "children", ()) or ())
    return found


def _assert_panel_inert(panel, shown=()) -> None:
    everything = _html_widgets(panel)
    hider = render.panel_style_html(panel._note.css_class)  # the panel's one style: it hides its reload note
    html_values = [w.value for w in everything if isinstance(w, (widgets.HTML, widgets.HTMLMath)) and w.value
                   and w.value != hider]
    assert [w.value for w in everything if getattr(w, "value", None) == hider] == [hider]
    for value in html_values:
        assert_inert(value)
    assert_inert("".join(html_values) or "<div></div>", shown=shown)
    for widget in everything:  # text widgets render as text; their descriptions must not allow HTML
        assert not getattr(widget, "description_allow_html", False), widget


@pytest.mark.timeout(60)
def test_panel_is_inert_with_hostile_prompts_errors_and_history(session, server):
    from wisgate_nb.widgets import Panel

    session.config.max_retries = 0
    panel = Panel(session)
    try:
        for payload in HOSTILE[:4]:
            panel._prompt.value = prompt_for(payload)
            panel._form["size"].value = "512x512"
            panel._generate.click()
        panel.wait(timeout=30)  # the fault below must go to the fifth request, not to one of these
        server.emulator.schedule(Fault("status", 400, message=f"refused: {HOSTILE[5]}"))
        panel._prompt.value = prompt_for(HOSTILE[6])
        panel._generate.click()
        slots = panel.wait(timeout=30)
        assert [s.state for s in slots].count("ok") == 4 and slots[-1].state == "error"
        _assert_panel_inert(panel, shown=[prompt_for(p) for p in HOSTILE[:4]] + [f"refused: {HOSTILE[5]}"])

        history_tab = panel._history_tab
        history_tab.refresh()
        history_tab.compare([r.id for r in session.history.records])
        ok = [r for r in session.history.records if r.status == "ok"]
        panel._edit_box.show_for(ok[0], 0)
        _assert_panel_inert(panel, shown=[prompt_for(HOSTILE[0]), f"refused: {HOSTILE[5]}"])
        assert_inert(panel.snapshot()._repr_html_(), shown=[prompt_for(p) for p in HOSTILE[:4]])
    finally:
        panel.close()


def test_panel_shows_crafted_server_strings_inertly(tmp_path, server):
    from wisgate_nb.config import WisGate
    from wisgate_nb.widgets import Panel

    history = History.create(tmp_path / "runs", session="crafted")
    for i, payload in enumerate(HOSTILE):
        history.append(Record(id=f"{i:02d}0000-cccccc", session="crafted", started_at=now_iso(), prompt=payload,
                              model=payload, status="error" if i % 2 else "cancelled", error=f"HTTP 502: {payload}",
                              source=payload, size=payload, quality=payload, tags=(payload,)))
    session = Session(WisGate(demo=True, history_dir=str(tmp_path / "runs"), api_key=None), history=history)
    panel = Panel(session)
    try:
        panel._history_tab.refresh()
        panel._history_tab.compare([r.id for r in history.records[:4]])
        _assert_panel_inert(panel, shown=HOSTILE)
        assert not inspect_html(panel._totals.value).problems
    finally:
        panel.close()
        session.close()
