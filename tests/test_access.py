"""Outputs everyone can use, checked as plain widget objects: every control has a name a screen reader can say,
every thumbnail has alt text that tells it apart, "more options" is a real button. (axe-core and the keyboard in
real Chromium: tests/test_browser_access.py.)"""

from __future__ import annotations

import ipywidgets as widgets
import pytest

import wisgate_nb
from wisgate_nb.widgets import Panel
from wisgate_nb.widgets.thumbs import Thumb


@pytest.fixture
def panel(demo_session):
    p = Panel(demo_session)
    yield p
    p.close()


def walk(widget):
    seen, todo = {}, [widget]
    while todo:
        w = todo.pop()
        if w.model_id not in seen:
            seen[w.model_id] = w
            todo.extend(getattr(w, "children", ()))
    return list(seen.values())


def test_gallery_and_history_thumbnails_have_alt_text_with_prompt_and_number(panel):
    slot = panel.generate("a calm sea at dawn", n=2, size="256x256")
    panel.wait(30)
    assert [i.tooltip for i in slot.images] == [f"a calm sea at dawn — image {k} of 2 (256x256, quality medium)"
                                                for k in (1, 2)]
    assert all(isinstance(i, Thumb) and i.description == "" for i in slot.images)  # the view needs a description
    wisgate_nb.generate("a red fox", size="256x256", background="opaque")  # from the API: thumbnails made here
    panel._switch.value = "History"
    images = [w for w in walk(panel._history_tab) if isinstance(w, widgets.Image) and w.value]
    assert len(images) == 3 and all(i.tooltip for i in images)
    assert "a red fox (256x256, quality medium, background opaque)" in {i.tooltip for i in images}


def test_every_form_control_of_the_panel_has_a_visible_name(panel):
    panel.generate("a fox", size="256x256")
    panel.wait(30)
    panel._switch.value = "History"
    nameless = [type(w).__name__ for w in walk(panel)
                if isinstance(w, (widgets.Checkbox, widgets.Dropdown, widgets.Text, widgets.Textarea, widgets.Combobox))
                and not w.description]
    assert not nameless
    row = next(iter(panel._history_tab.rows.values()))
    assert row.checkbox.description == row.record.id  # the box's label is the record's id
    # unnamed (the slider's handle), skipped by Tab (the Accordion's header), stuck after a reload (a Tab's bar)
    assert not any(isinstance(w, (widgets.IntSlider, widgets.Accordion, widgets.Tab)) for w in walk(panel))


def test_more_options_is_a_button_that_shows_and_hides_them(panel):
    form = panel._form
    assert isinstance(form.more_button, widgets.ToggleButton) and form.more.layout.display == "none"
    form.more_button.value = True
    assert form.more.layout.display is None and form.more_button.icon == "chevron-down"
    assert {w.description for w in form.more.children} >= {"compression", "moderation", "input fidelity"}
    assert all(w.style.description_width == "initial" for w in form.more.children)  # labels are never cut off
    form.more_button.value = False
    assert form.more.layout.display == "none"


def test_the_panel_keeps_the_keys_of_its_fields_from_the_notebook(panel):
    from wisgate_nb.widgets.keys import KeyGuard

    guards = [w for w in panel.children if isinstance(w, KeyGuard)]
    assert len(guards) == 1 and "stopPropagation" in guards[0]._esm
