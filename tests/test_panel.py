"""The panel's logic, driven as plain widget objects (set ``.value``, ``.click()``) against the demo server."""

from __future__ import annotations

import datetime
import io
import time

import ipywidgets as widgets
import pytest
from bounds import CANCEL_S, concurrent

import wisgate_nb
from wisgate_nb import errors, templates
from wisgate_nb.emulator import Fault
from wisgate_nb.output import html
from wisgate_nb.widgets import Panel
from wisgate_nb.widgets import history_tab as history_tab_module
from wisgate_nb.widgets import panel as panel_module
from wisgate_nb.widgets import slot as slot_module
from wisgate_nb.widgets.words import explain, totals_line

JPEG = b"\xff\xd8"


@pytest.fixture
def panel(demo_session):
    p = Panel(demo_session)
    yield p
    p.close()


def generate(p: Panel, prompt: str, **values) -> slot_module.ResultSlot:
    """Type a prompt, set the form's controls by option name (``n=2``; ``custom_size="WxH"``), click Generate."""
    p._prompt.value = prompt
    for name, value in values.items():
        widget = p._form.custom_size if name == "custom_size" else p._form[name]
        widget.value = value
    before = len(p.slots)
    p._generate.click()
    assert len(p.slots) == before + 1, p._status.value
    return p.slots[-1]


def wait_until(condition, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def walk(widget):
    """Every widget reachable from ``widget`` through children (each model once)."""
    seen, todo = {}, [widget]
    while todo:
        w = todo.pop()
        if w.model_id in seen:
            continue
        seen[w.model_id] = w
        todo.extend(getattr(w, "children", ()))
    return list(seen.values())


# -- settings -----------------------------------------------------------------------------------

def test_panel_starts_from_session_settings(demo_session):
    wisgate_nb_config = demo_session.config
    wisgate_nb_config.size, wisgate_nb_config.n, wisgate_nb_config.quality = "512x512", 3, "low"
    p = Panel(demo_session)
    form = p._form
    assert (form["size"].value, form["n"].value, form["quality"].value, form["model"].value) == (
        "512x512", 3, "low", "gpt-image-2")
    wisgate_nb_config.size = "1280x720"  # not a listed size: the panel shows it as a custom size
    q = Panel(demo_session)
    assert (q._form["size"].value, q._form.custom_size.value, q._form.custom_size.disabled) == ("custom", "1280x720", False)


def test_changing_the_panel_does_not_change_session_config(panel, demo_session):
    before = demo_session.config.settings()
    slot = generate(panel, "a teapot", size="custom", custom_size="640x480", n=2, quality="high",
                    output_format="webp", model="gpt-image-1")
    panel.wait(20)
    assert slot.state == "ok", slot.summary
    record = demo_session.history[slot.record.id]
    assert (record.size, record.n, record.quality, record.model) == ("640x480", 2, "high", "gpt-image-1")
    assert record.params["output_format"] == "webp"
    assert demo_session.config.settings() == before


# -- generating ---------------------------------------------------------------------------------

def test_generate_fills_a_gallery_slot_with_small_jpeg_thumbnails(panel, demo_session):
    slot = generate(panel, "a lighthouse on a cliff at dusk", n=2)
    assert panel._gallery.children[0] is slot
    assert "working" in panel._status.value
    panel.wait(20)
    assert slot.state == "ok", slot.summary
    assert len(slot.images) == 2
    for image, caption in zip(slot.images, slot._captions):
        assert image.format == "jpeg" and image.value[:2] == JPEG
        assert 1_000 < len(image.value) < 100_000  # a thumbnail, never the full-size image
        assert "1024x1024" in caption.value
    assert "a lighthouse on a cliff at dusk" in slot._header.value
    assert "2 of 2 images" in slot.summary and "done" in panel._status.value
    [record] = demo_session.history.records
    assert (record.source, record.status, record.images, record.id) == ("panel", "ok", 2, slot.record.id)
    assert "1 request · 2 images" in panel._totals.value


def test_the_running_total_shows_the_cost_with_prices(demo_session):
    demo_session.config.prices = {"gpt-image-2": {"per_image": 0.04}}
    p = Panel(demo_session)
    assert "0 requests · 0 images · cost ≈ 0.00" in p._totals.value
    generate(p, "a fox", n=3)
    p.wait(20)
    assert "1 request · 3 images" in p._totals.value and "cost ≈ 0.12" in p._totals.value


def test_invalid_input_is_shown_in_the_status_and_nothing_is_sent(panel, demo_session):
    panel._prompt.value = "a fox"
    panel._form["size"].value = "custom"
    panel._form.custom_size.value = "12x99999"
    panel._generate.click()
    assert "size must be" in panel._status.value and "Not sent" in panel._status.value
    panel._form.custom_size.value = ""
    panel._generate.click()
    assert "custom size" in panel._status.value
    panel._form["size"].value = "1024x1024"
    panel._prompt.value = "   "
    panel._generate.click()
    assert "prompt is empty" in panel._status.value
    assert panel.slots == [] and len(demo_session.history) == 0


def test_cancel_a_slow_generation_records_it_as_cancelled(session, server):
    server.emulator.config.latency = 5.0
    panel = Panel(session)
    slot = generate(panel, "a slow painting")
    wait_until(lambda: server.emulator.image_requests)  # the request is at the server
    assert slot.running
    cancelled_at = time.monotonic()
    slot._cancel.click()
    panel.wait(10)
    assert time.monotonic() - cancelled_at < CANCEL_S  # the panel did not wait for the slow server
    assert slot.state == "cancelled" and "cancelled after" in slot.summary
    assert [r.status for r in session.history.records] == ["cancelled"]  # recorded before the slot settled
    panel.close()


def test_panel_cancel_stops_every_running_generation(panel, demo_session):
    demo_session.config.demo_latency = 3.0
    a, b = generate(panel, "one"), generate(panel, "two")
    panel._cancel.click()
    panel.wait(10)
    assert (a.state, b.state) == ("cancelled", "cancelled")
    assert "cancelled 2 generations" in panel._status.value
    wait_until(lambda: len(demo_session.history) == 2)
    assert {r.status for r in demo_session.history.records} == {"cancelled"}


def test_two_generations_in_flight_each_have_their_own_slot(panel, demo_session):
    demo_session.config.demo_latency = 2.0
    t0 = time.monotonic()
    first = generate(panel, "a red fox")
    second = generate(panel, "a blue whale", n=2)
    assert len(panel.running) == 2 and "2 generations in flight" in panel._status.value
    assert panel._gallery.children[:2] == (second, first)  # newest on top
    panel.wait(20)
    assert time.monotonic() - t0 < concurrent(2, 2.0)  # not one after the other
    assert (first.state, second.state) == ("ok", "ok")
    assert (len(first.images), len(second.images)) == (1, 2)
    assert first.record.prompt == "a red fox" and second.record.prompt == "a blue whale"
    assert first.images[0].value != second.images[0].value


def test_elapsed_times_tick_on_the_engine_without_a_thread_of_the_panel(panel, demo_session):
    import threading

    demo_session.config.demo_latency = 2.0
    before = {t.name for t in threading.enumerate()}
    slot = generate(panel, "a slow clock")
    first = panel._status.value
    wait_until(lambda: panel._status.value != first and "in flight" in panel._status.value, timeout=5)
    assert slot.running  # the status moved on while the request was still running
    assert {t.name for t in threading.enumerate()} - before <= {"wisgate-engine"} | {
        t.name for t in threading.enumerate() if t.name.startswith("wisgate-engine-worker")}  # its own workers
    panel.wait(20)
    assert slot.state == "ok"


def test_streaming_previews_replace_each_other_in_place(panel, demo_session):
    demo_session.config.demo_latency = 1.5  # the first preview comes after 0.25 s: time to start observing
    changes: list[int] = []
    panel._prompt.value = "a streaming sunset"
    panel._form["n"].value, panel._form["stream"].value = 2, 2
    panel._generate.click()
    slot = panel.slots[-1]
    for i, image in enumerate(slot.images):
        image.observe(lambda _c, i=i: changes.append(i), names="value")
    panel.wait(20)
    assert slot.state == "ok", slot.summary
    assert slot.request.body["stream"] is True and slot.request.body["partial_images"] == 2
    assert slot.preview_count == 4  # 2 partials for each of the 2 images ...
    assert changes.count(0) == 3 and changes.count(1) == 3  # ... then the final thumbnail, in the same Image
    assert slot.images[0].value == slot.generation.thumbs[0].read_bytes()


def test_a_refused_prompt_is_explained_in_plain_words(panel, demo_session):
    slot = generate(panel, "something forbidden")
    panel.wait(20)
    assert slot.state == "error" and isinstance(slot.error, errors.ContentPolicyError)
    assert "safety filter refused" in slot.summary
    assert "safety filter refused" in panel._status.value
    [record] = demo_session.history.records
    assert (record.status, record.source) == ("error", "panel")


def test_rate_limit_words_reach_the_slot_status(session, server):
    server.emulator.schedule(Fault("status", status=429, retry_after=0.3))
    p = Panel(session)
    seen: list[str] = []
    slot = generate(p, "a busy afternoon")
    slot._status.observe(lambda c: seen.append(c["new"]), names="value")
    p.wait(20)
    assert slot.state == "ok", slot.summary
    assert any("waiting for the rate limit (~1 s)" in s for s in seen), seen


def test_a_failing_callback_lands_in_the_status(panel, monkeypatch):
    def broken(*_args):
        raise RuntimeError("boom")

    monkeypatch.setattr(slot_module.thumbs, "fill", broken)
    slot = generate(panel, "a fox")
    panel.wait(20)
    assert slot.state == "error"
    assert "RuntimeError: boom" in slot.summary and "RuntimeError: boom" in panel._status.value


# -- history tab ---------------------------------------------------------------------------------

def test_history_tab_compare_rerun_rate_and_tag(panel, demo_session):
    small = generate(panel, "a lighthouse", size="512x512")
    large = generate(panel, "a lighthouse", size="1024x1024")
    panel.wait(20)
    tab = panel._history_tab
    panel._switch.value = "History"  # opening the tab refreshes it
    assert set(tab.rows) == {small.record.id, large.record.id}
    ids = [small.record.id, large.record.id]
    tab.select(ids)
    tab._compare_button.click()
    assert tab._compare_view.layout.display is None
    slider = tab._compare_view.children[1]  # two results: one over the other (a grid for three or more)
    assert type(slider).__name__ == "CompareSlider"
    assert "512x512" in slider.label_a and "1024x1024" in slider.label_b and slider.a and slider.b

    tab._stars.value = 4
    tab._rate_button.click()
    tab._tag_text.value = "favourite, class-3"
    tab._tag_button.click()
    for rid in ids:
        assert demo_session.history[rid].rating == 4
        assert demo_session.history[rid].tags == ("favourite", "class-3")
    assert "★★★★" in tab.rows[small.record.id].info.value

    tab.select([small.record.id])
    tab._rerun_button.click()
    assert panel._switch.value == "Generate"
    rerun = panel.slots[-1]
    panel.wait(20)
    assert rerun.state == "ok" and rerun.record.id not in ids
    assert (rerun.record.prompt, rerun.record.size, rerun.record.source) == ("a lighthouse", "512x512", "panel")
    assert "re-run of" in rerun._header.value


def test_an_edit_is_re_run_with_its_kept_input_and_mask(panel, demo_session, tmp_path):
    from PIL import Image

    image = tmp_path / "wall.png"
    Image.new("RGB", (96, 96), (200, 180, 160)).save(image)
    mask = Image.new("RGBA", (96, 96), (0, 0, 0, 255))
    mask.paste((0, 0, 0, 0), (20, 20, 60, 60))
    mask.save(tmp_path / "mask.png")
    first = wisgate_nb.edit(image, "paint a window", mask=tmp_path / "mask.png")
    image.unlink()  # re-running needs the copy the history kept, not the user's file
    tab = panel._history_tab
    panel._switch.value = "History"
    tab.select([first.id])
    tab._rerun_button.click()
    again = panel.slots[-1]
    panel.wait(20)
    assert again.state == "ok", again.summary
    assert again.record.endpoint == "edits" and again.record.prompt == "paint a window"
    assert (again.record.inputs, again.record.mask) == (first.record.inputs, first.record.mask)


def test_history_tab_compares_three_records_side_by_side(panel, demo_session):
    slots = [generate(panel, "a lighthouse", size=size) for size in ("512x512", "1024x1024", "1536x1024")]
    panel.wait(20)
    tab = panel._history_tab
    panel._switch.value = "History"
    tab.select([s.record.id for s in slots])
    tab._compare_button.click()
    grid = tab._compare_view.children[1]  # one prompt, three sizes: a column per result, in order
    labels = [c.children[0].value for c in grid.children]
    assert len(labels) == 3 and all(size in label for size, label in zip(("512x512", "1024x1024", "1536x1024"), labels))
    compared = {w.model_id for w in walk(grid) if isinstance(w, widgets.Image)}
    assert compared == {s.images[0].model_id for s in slots}  # the gallery's own Images


def test_compare_needs_two_records(panel):
    generate(panel, "a fox")
    panel.wait(20)
    panel._switch.value = "History"
    panel._history_tab.select(panel.record_ids)
    panel._history_tab._compare_button.click()
    assert "two or more" in panel._status.value


def test_history_tab_shows_records_of_the_magic_and_api_too(panel, demo_session):
    wisgate_nb.generate("made by the api", size="512x512")
    panel._switch.value = "History"
    [row] = panel._history_tab.rows.values()
    images = [w for w in walk(row.box) if isinstance(w, widgets.Image)]
    assert len(images) == 1 and images[0].value[:2] == JPEG
    assert "made by the api" in row.info.value and "api" in row.info.value


def test_new_results_flag_the_open_history_tab(panel):
    panel._switch.value = "History"
    generate(panel, "a fox")
    panel.wait(20)
    assert "1 new result: press Refresh" in panel._history_tab._note.value


def test_thumbnails_are_in_the_widget_state_once(panel):
    generate(panel, "a fox", n=2)
    generate(panel, "a cat", size="512x512", n=1)
    panel.wait(20)
    panel._switch.value = "History"
    panel._history_tab.select(panel.record_ids)
    panel._history_tab._compare_button.click()
    images = [w for w in walk(panel) if isinstance(w, widgets.Image) and w.value]
    assert len(images) == 3  # shown in the gallery, the history table and the comparison: one model each
    assert len({bytes(w.value) for w in images}) == 3


# -- edit, templates, snapshot ---------------------------------------------------------------------

def test_edit_a_result_with_a_prompt_and_a_mask_file(panel, demo_session, tmp_path):
    from PIL import Image

    original = generate(panel, "a plain room", size="512x512")
    panel.wait(20)
    original._edit_buttons[0].click()
    box = panel._edit_box
    assert box.layout.display is None and "a plain room" in box._title.value
    mask = tmp_path / "mask.png"
    Image.new("RGBA", (512, 512), (0, 0, 0, 0)).save(mask)
    box._prompt.value = "add a red sofa"
    box._mask_path.value = str(mask)
    box._send_button.click()
    assert box.layout.display == "none"
    edited = panel.slots[-1]
    panel.wait(20)
    assert edited.state == "ok", edited.summary
    assert "edit of " + original.record.id in edited._header.value
    record = demo_session.history[edited.record.id]
    assert (record.endpoint, record.source, record.prompt) == ("edits", "panel", "add a red sofa")
    assert edited.images[0].value[:2] == JPEG


def test_edit_with_an_uploaded_mask_and_bad_mask_path(panel, demo_session):
    from PIL import Image

    original = generate(panel, "a plain room", size="512x512")
    panel.wait(20)
    original._edit_buttons[0].click()
    box = panel._edit_box
    box._prompt.value = "add a window"
    box._mask_path.value = "no/such/mask.png"
    box._send_button.click()
    assert "not found" in panel._status.value and len(panel.slots) == 1
    out = io.BytesIO()
    Image.new("RGBA", (512, 512), (0, 0, 0, 0)).save(out, "PNG")
    box._mask_path.value = ""
    box._mask_upload.value = ({"name": "m.png", "type": "image/png", "size": len(out.getvalue()),
                               "content": memoryview(out.getvalue()),
                               "last_modified": datetime.datetime.now(datetime.timezone.utc)},)
    box._send_button.click()
    assert box._mask_upload.value == ()  # the mask's bytes do not stay in the widget state
    panel.wait(20)
    assert panel.slots[-1].state == "ok" and panel.slots[-1].record.endpoint == "edits"


@pytest.fixture
def template_file(tmp_path):
    templates.set_file(tmp_path / "wisgate_templates.toml")
    yield
    templates.set_file(None)


def test_template_picker_fills_the_prompt(template_file, demo_session):
    templates.save("product-shot", "A {subject} on a {background} background", background="white")
    p = Panel(demo_session)
    picker = p._template
    assert "product-shot" in picker._choice.options
    picker._choice.value = "product-shot"
    assert set(picker.inputs) == {"subject", "background"}
    assert picker.inputs["background"].value == "white"
    p._generate.click()  # subject is required
    assert "subject" in p._status.value and not p.slots
    picker.inputs["subject"].value = "red sneaker"
    slot = generate(p, "soft light")
    p.wait(20)
    assert slot.state == "ok", slot.summary
    assert slot.record.prompt.startswith("A red sneaker on a white background")
    assert "soft light" in slot.record.prompt
    assert slot.record.template["name"] == "product-shot"
    picker._choice.value = "(no template)"
    assert picker.inputs == {} and p._prompt.placeholder.startswith("Describe")


def test_snapshot_is_a_static_comparison(panel):
    assert "no results yet" in panel.snapshot()._repr_html_()
    generate(panel, "a fox")
    generate(panel, "a cat")
    panel.wait(20)
    html = panel.snapshot()._repr_html_()
    assert "data:image/jpeg;base64," in html and "a fox" in html and "a cat" in html
    assert "wisgate_nb panel: 2 results" in html


def test_wisgate_nb_panel_is_a_plain_function(demo_session):
    import inspect

    import wisgate_nb.widgets  # importing the widgets package must not rebind wisgate_nb.panel

    assert inspect.isfunction(wisgate_nb.panel)
    assert "ipywidgets panel" in (wisgate_nb.panel.__doc__ or "")
    assert isinstance(wisgate_nb.panel(), Panel)


# -- words ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("exc", "words"), [
    (errors.ConfigurationError("n must be 1 to 10"), "Not sent: please fix this first. (n must be 1 to 10)"),
    (errors.ContentPolicyError("blocked", status_code=400), "safety filter refused"),
    (errors.AuthenticationError("bad key", status_code=401), "API key was refused"),
    (errors.RateLimitError("slow down", status_code=429), "Too many requests"),
    (errors.InternalServerError("oops", status_code=503), "server had a problem"),
    (errors.APITimeoutError("timed out"), "took too long"),
    (errors.APIConnectionError("refused"), "Could not reach"),
    (errors.ResponseFormatError("no images"), "not a usable image"),
    (KeyError("x"), "Something went wrong inside wisgate_nb (KeyError"),
])
def test_explain(exc, words):
    assert words in explain(exc)


def test_totals_line():
    assert totals_line({"requests": 1, "images": 2, "total_tokens": 0, "cost": None}) == "session: 1 request · 2 images"
    assert totals_line({"requests": 3, "images": 1, "total_tokens": 1200, "cost": 0.2}) == (
        "session: 3 requests · 1 image · 1,200 tokens · cost ≈ 0.20")


def test_generate_from_code_fills_the_form_and_sends(tmp_path):
    from wisgate_nb.config import WisGate
    from wisgate_nb.core.session import Session, set_current
    from wisgate_nb.errors import ConfigurationError
    from wisgate_nb.widgets import Panel

    s = Session(WisGate(demo=True, history_dir=str(tmp_path), api_key=None))
    previous = set_current(s)
    try:
        panel = Panel(s)
        slot = panel.generate("a paper boat", size="320x240", n=2, quality="low")
        panel.wait(30)
        assert slot.record is not None and slot.record.size == "320x240" and slot.record.images == 2
        assert s.history.records[-1].source == "panel" and panel._prompt.value == "a paper boat"
        with pytest.raises(ConfigurationError):
            panel.generate("x", colour="red")
        with pytest.raises(ConfigurationError):
            panel.generate("x", size="5x5")
        assert len(s.history) == 1
        assert s.config.size == "1024x1024"  # the panel's own copy changed, not the session's
    finally:
        s.close()
        set_current(previous)


# -- what the panel says (issue 17) --------------------------------------------------------------------

def test_the_status_says_one_thing_the_newest(panel, demo_session):
    panel._prompt.value = "   "
    panel._generate.click()
    assert "prompt is empty" in panel._status.value and "ready" not in panel._status.value
    assert panel._status.value.count("<br>") == 0  # one line: not an old activity above a new error
    slot = generate(panel, "a fox")
    panel.wait(20)
    assert slot.state == "ok"
    assert "done: 1 of 1 image" in panel._status.value and "prompt is empty" not in panel._status.value
    assert html.COLOURS["ok"] in panel._status.value


def test_an_error_stays_until_newer_news(panel, demo_session):
    demo_session.config.demo_latency = 2.5
    slow = generate(panel, "a slow fox")
    panel._prompt.value = "   "
    panel._generate.click()
    for _ in range(2):  # two ticks of the running one (each moves its elapsed time) must not wipe out the error
        before = slow._status.value
        wait_until(lambda before=before: slow._status.value != before, timeout=5)
    assert slow.running and "prompt is empty" in panel._status.value
    panel.wait(20)
    assert "done:" in panel._status.value and "prompt is empty" not in panel._status.value


def test_the_missing_key_message_keeps_its_three_lines(tmp_path):
    from wisgate_nb.config import WisGate
    from wisgate_nb.core.session import Session

    session = Session(WisGate(demo=False, api_key=None, history_dir=str(tmp_path / "runs")))
    p = Panel(session)
    try:
        p._prompt.value = "a fox"
        p._generate.click()
        status = p._status.value
        assert "No API key is set" in status and status.count("<br>") >= 3
        assert status.index("1. set WISGATE_API_KEY") < status.index("2. run %wisgate_key") < status.index("3. use demo")
        assert p.slots == []
    finally:
        p.close()
        session.close()


def test_cancel_is_enabled_only_while_something_runs(panel, demo_session):
    assert panel._cancel.disabled
    demo_session.config.demo_latency = 1.0
    slot = generate(panel, "a slow fox")
    assert not panel._cancel.disabled
    panel.wait(20)
    assert slot.state == "ok" and panel._cancel.disabled


def test_a_double_click_sends_once(panel, demo_session, monkeypatch):
    panel._prompt.value = "a lighthouse"
    panel._generate.click()
    panel._generate.click()  # 0 s apart: the same request, not sent twice
    assert len(panel.slots) == 1 and "pressed twice" in panel._status.value
    panel._prompt.value = "another lighthouse"
    panel._generate.click()  # a different request is sent at once
    assert len(panel.slots) == 2
    monkeypatch.setattr(panel_module, "DOUBLE_CLICK_S", 0.0)
    panel._generate.click()  # the same again, deliberately, later: sent
    assert len(panel.slots) == 3
    panel.wait(20)
    assert len(demo_session.history) == 3


def test_cancelled_has_one_colour_in_the_gallery_and_the_history_tab(panel, demo_session):
    demo_session.config.demo_latency = 3.0
    slot = generate(panel, "a cancelled fox")
    slot._cancel.click()
    panel.wait(10)
    wait_until(lambda: len(demo_session.history) == 1)
    panel._switch.value = "History"
    row = panel._history_tab.rows[demo_session.history.records[0].id]
    warn = html.COLOURS["warn"]
    assert warn in slot._status.value and f'color:{warn}">cancelled' in row.info.value
    assert html.COLOURS["error"] not in row.info.value  # the id, time and prompt are not red


def test_history_rows_start_their_text_at_the_same_place(panel, demo_session):
    generate(panel, "one image")
    generate(panel, "three images", n=3)
    panel.wait(20)
    panel._switch.value = "History"
    strips = [row.box.children[1] for row in panel._history_tab.rows.values()]
    assert {s.layout.width for s in strips} == {history_tab_module.ROW_THUMBS_WIDTH}
    assert all(s.layout.min_width == history_tab_module.ROW_THUMBS_WIDTH for s in strips)


def test_a_reopened_notebook_still_says_what_the_panel_made(panel, demo_session):
    from IPython.core.displaypub import CapturingDisplayPublisher
    from IPython.core.interactiveshell import InteractiveShell

    ip = InteractiveShell.instance()
    original, ip.display_pub = ip.display_pub, CapturingDisplayPublisher()
    try:
        panel._ipython_display_()
        shown = list(ip.display_pub.outputs)
        slot = generate(panel, "a remembered lighthouse")
        panel.wait(20)
        updates = [o for o in ip.display_pub.outputs[len(shown):] if o.get("update")]
    finally:
        ip.display_pub = original
    widget, note = shown
    assert "application/vnd.jupyter.widget-view+json" in widget["data"]
    assert "needs a running kernel" in widget["data"]["text/plain"]  # what a front end without widgets shows
    assert "needs its kernel" in note["data"]["text/html"] and "run this cell again" in note["data"]["text/html"]
    assert panel._note.css_class in note["data"]["text/html"]
    last = updates[-1]["data"]["text/html"]
    assert "a remembered lighthouse" in last and slot.record.id in last and "History.load(" in last
    assert f'load(&quot;{html.link_for(demo_session.history.folder)}&quot;)' in last  # relative, like the links
    assert panel._note.hider.value == html.panel_style_html(panel._note.css_class)


def test_history_tab_compare_shows_every_image_in_the_order_chosen(panel, demo_session):
    one = generate(panel, "a lighthouse", size="512x512")
    two = generate(panel, "a harbour", size="512x512", n=2)
    three = generate(panel, "a lighthouse", size="1024x1024", n=1)
    panel.wait(20)
    tab = panel._history_tab
    tab.compare([three.record.id, one.record.id, two.record.id])
    shown = tab._compare_view.children[1]  # three results: one column each, side by side, in the order given
    labels = [c.children[0].value for c in shown.children]
    assert len(labels) == 3 and "a lighthouse" in labels[0] and "1024x1024" in labels[0] and "a harbour" in labels[2]
    images = [{w.model_id for w in walk(c) if isinstance(w, widgets.Image)} for c in shown.children]
    assert images == [{three.images[0].model_id}, {one.images[0].model_id}, {i.model_id for i in two.images}]
