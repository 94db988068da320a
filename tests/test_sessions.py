"""History that lasts: every kernel's session stays in history_dir, and a restarted kernel lists and opens them."""

from __future__ import annotations

import pytest

import wisgate_nb
from wisgate_nb.config import WisGate
from wisgate_nb.core.session import Session, set_current
from wisgate_nb.errors import ConfigurationError
from wisgate_nb.records import History


def kernel(runs):
    """A new kernel's session (as after a restart): demo mode, the same history_dir."""
    return Session(WisGate(demo=True, history_dir=str(runs), api_key=None))


@pytest.fixture
def restarted(tmp_path):
    """Two kernels one after the other on one history_dir: the first made 2 requests (3 images), the second 1."""
    runs = tmp_path / "runs"
    previous = None
    try:
        first = kernel(runs)
        previous = set_current(first)
        wisgate_nb.generate("a fox before the restart", size="256x256", n=2)
        wisgate_nb.generate("a cat before the restart", size="256x256")
        first.close()
        second = kernel(runs)
        set_current(second)
        wisgate_nb.generate("a dog after the restart", size="256x256")
        yield first, second
        second.close()
    finally:
        set_current(previous)


def test_sessions_lists_every_session_newest_first_with_its_counts(restarted):
    first, second = restarted
    listed = wisgate_nb.sessions()
    assert list(listed.columns) == ["session", "started", "ended", "requests", "images", "folder"]
    assert list(listed["session"]) == [second.history.session, first.history.session]
    assert list(listed["requests"]) == [1, 2] and list(listed["images"]) == [1, 3]
    assert listed["started"][1] <= listed["ended"][1] < listed["started"][0]


def test_history_of_the_previous_session_and_by_id(restarted):
    first, second = restarted
    assert [r.prompt for r in wisgate_nb.history()] == ["a dog after the restart"]  # the running kernel's own
    previous = wisgate_nb.history(session="previous")
    assert previous.session == first.history.session
    assert [r.prompt for r in previous] == ["a fox before the restart", "a cat before the restart"]
    assert previous.full_paths(previous[0])[1].exists()  # its images are found where they are
    by_id = wisgate_nb.history(session=second.history.session)
    assert [r.prompt for r in by_id] == ["a dog after the restart"]


def test_an_unknown_session_or_no_previous_one_is_a_clear_error(tmp_path, demo_session):
    with pytest.raises(ConfigurationError, match="no earlier session"):
        wisgate_nb.history(session="previous")
    wisgate_nb.generate("a fox", size="256x256")
    with pytest.raises(ConfigurationError, match=r"no session 'nope' .*sessions\(\) lists them; newest: \d"):
        wisgate_nb.history(session="nope")


def test_loading_the_whole_folder_keeps_the_sessions_apart_in_the_frame(restarted):
    first, second = restarted
    everything = History.load(first.history.folder.parent)
    frame = everything.df
    assert sorted(frame["session"].unique()) == sorted([first.history.session, second.history.session])
    assert frame.groupby("session").size().to_dict() == {first.history.session: 2, second.history.session: 1}


# -- the History tab reaches every record ---------------------------------------------------------------------

def _append(history, count: int, prompt: str = "record") -> list[str]:
    from wisgate_nb.records import Record, now_iso

    ids = []
    for i in range(count):
        record = Record(id=f"{i:06d}-{prompt[:6]:x<6}", session=history.session, started_at=now_iso(),
                        prompt=f"{prompt} {i}", model="gpt-image-2", status="error", error="x", size="256x256")
        history.append(record)
        ids.append(record.id)
    return ids


def _note(tab) -> str:
    import html

    return html.unescape(tab._note.value)


def _shown(tab) -> list[str]:
    by_box = {row.box.model_id: rid for rid, row in tab.rows.items()}
    return [by_box[box.model_id] for box in tab._rows.children]


def test_the_history_tab_pages_through_every_record_newest_first(demo_session):
    from wisgate_nb.widgets import Panel
    from wisgate_nb.widgets.history_tab import PAGE

    ids = _append(demo_session.history, PAGE * 2 + 7)
    panel = Panel(demo_session)
    tab = panel._history_tab
    panel._switch.value = "History"
    assert _shown(tab) == ids[::-1][:PAGE] and tab._newer.disabled and not tab._older.disabled
    assert f"records 1–{PAGE} (newest first) of {PAGE * 2 + 7} records" in _note(tab)
    seen = list(_shown(tab))
    while not tab._older.disabled:
        tab._older.click()
        seen += _shown(tab)
    assert seen == ids[::-1]  # every record, once, in order
    assert f"records {PAGE * 2 + 1}–{PAGE * 2 + 7} (newest first)" in _note(tab)
    tab._newer.click()
    assert _shown(tab) == ids[::-1][PAGE:PAGE * 2]
    panel.close()


def test_the_history_tab_searches_prompts_and_tags(demo_session):
    from wisgate_nb.widgets import Panel

    history = demo_session.history
    ids = _append(history, 60, "a lighthouse") + _append(history, 3, "a zebra")
    history.tag(ids[5], "Keeper")
    panel = Panel(demo_session)
    tab = panel._history_tab
    panel._switch.value = "History"
    tab._search.value = "ZEBRA"  # case does not matter
    assert _shown(tab) == ids[-3:][::-1] and tab._older.disabled and "3 records matching 'ZEBRA'" in _note(tab)
    tab._search.value = "keeper"  # a tag
    assert _shown(tab) == [ids[5]]
    tab._search.value = "lighthouse"  # 60 matches: two pages
    assert len(_shown(tab)) == 50 and not tab._older.disabled
    tab._older.click()
    assert _shown(tab) == ids[:10][::-1]
    tab._search.value = "nothing like this"
    assert _shown(tab) == [] and "no record matches 'nothing like this'" in _note(tab)
    panel.close()
