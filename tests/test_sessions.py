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
