"""The front doors' shows (output/shows.py) as plain objects: what each puts in its display area, told what the
runner tells it. The areas are recording stand-ins for output/live.py's (which only draw inside a kernel;
tests/test_kernel.py sees the real ones)."""

from __future__ import annotations

from concurrent.futures import CancelledError
from types import SimpleNamespace

import pytest

from wisgate_nb.errors import ConfigurationError
from wisgate_nb.output import shows


class Area:
    """A display area that keeps what it was given."""

    made: list[Area] = []

    def __init__(self, html: str, *, enabled: bool = True, text: str = ""):
        self.enabled = enabled
        self.shown: list = [html]
        Area.made.append(self)

    @property
    def active(self) -> bool:
        return self.enabled

    def update(self, html: str, metadata: dict | None = None, *, text: str = "") -> None:
        self.shown.append(html)

    def update_obj(self, obj) -> None:
        self.shown.append(obj)


class Line:
    """A waiting line that keeps its words and how it finished (``in_kernel`` False: not drawn, as outside one)."""

    in_kernel = True

    def __init__(self, what: str, *, enabled: bool = True):
        self.words, self.enabled, self.partials, self.status, self.ended = [what], enabled, [], [], []

    @property
    def active(self) -> bool:
        return self.enabled and self.in_kernel

    def set_what(self, what: str) -> None:
        self.words.append(what)

    def on_status(self, text: str) -> None:
        self.status.append(text)

    def on_partial(self, index: int, blob) -> None:
        self.partials.append(index)

    def finish(self, result=None) -> None:
        self.ended.append(result)


@pytest.fixture(autouse=True)
def areas(monkeypatch):
    Area.made = []
    monkeypatch.setattr(shows, "Live", Area)
    monkeypatch.setattr(shows, "Waiting", Line)
    monkeypatch.setattr(shows, "preview_callback", lambda area, prompt: lambda i, blob: area.update(f"preview {i}"))
    return Area.made


def request(prompt: str = "a fox", *, stream: bool = False):
    body = {"prompt": prompt, "size": "64x64", **({"stream": True} if stream else {})}
    return SimpleNamespace(prompt=prompt, body=body, n=1, streamed=stream)


BLOB = SimpleNamespace(data=b"", width=64, height=48)


def test_progress_counts_done_and_failed_requests(areas):
    show = shows.Progress()
    show.started([request("a"), request("b"), request("c")])
    show.on_done(1, object())
    show.on_done(0, ConfigurationError("no"))
    (area,) = areas
    assert area.enabled and "0 of 3 requests done" in area.shown[0]
    assert "1 of 3 requests done ·" in area.shown[1] and "2 of 3 requests done, 1 failed ·" in area.shown[2]


@pytest.mark.parametrize("enabled, count", [(False, 3), (True, 1)])
def test_progress_draws_nothing_when_off_or_for_one_request(areas, enabled, count):
    shows.Progress(enabled=enabled).started([request() for _ in range(count)])
    assert [a.enabled for a in areas] == [False]


def test_previews_of_a_stream_show_in_place_and_go_when_it_ends(areas):
    show = shows.Previews()
    show.started([request("a comet", stream=True)])
    show.on_partial(0, BLOB)
    show.on_partial(1, BLOB)
    show.finished(object(), None)
    (area,) = areas
    assert "waiting for the first preview of: a comet" in area.shown[0]
    assert area.shown[1:] == ["preview 0", "preview 1", ""]


def test_previews_go_to_the_callers_callback_and_nothing_is_drawn(areas):
    got = []
    show = shows.Previews(lambda i, blob: got.append(i))
    show.started([request(stream=True)])
    show.on_partial(0, BLOB)
    show.finished(object(), None)
    assert got == [0] and areas == []


def test_previews_of_a_request_that_does_not_stream_draw_nothing(areas):
    shows.Previews().started([request()])
    assert areas == []


def test_a_cells_line_counts_several_and_the_result_takes_its_place():
    show = shows.Cell()
    show.started([request("a"), request("b")])
    show.on_done(0, ConfigurationError("no"))
    show.on_done(1, object())
    batch = SimpleNamespace(results=[], comparison="the comparison")
    show.finished(batch, None)
    line = show._waiting
    assert line.words == ["2 requests at once · 0 done", "2 requests at once · 1 done, 1 failed",
                          "2 requests at once · 2 done, 1 failed"]
    assert line.ended == ["the comparison"]


def test_a_cells_line_of_one_request_takes_previews_and_retry_words_and_goes_on_an_error():
    show = shows.Cell()
    show.started([request("a fox", stream=True)])
    show.on_partial(0, BLOB)
    show.on_status("HTTP 429 (rate limit): waiting 4 s, retry 1 of 2")
    show.finished(None, KeyboardInterrupt())
    line = show._waiting
    assert "a fox" in line.words[0] and line.partials == [0] and line.status[0].startswith("HTTP 429")
    assert line.ended == [None]  # the line goes; nothing takes its place


@pytest.mark.parametrize("enabled", [True, False])
def test_a_cell_without_a_frontend_displays_the_result_only_when_asked_and_not_an_error(monkeypatch, capsys, enabled):
    monkeypatch.setattr(Line, "in_kernel", False)
    show = shows.Cell(enabled=enabled)
    show.started([request()])
    show.finished(None, KeyboardInterrupt())
    assert capsys.readouterr().out == ""
    show.finished(SimpleNamespace(note="the generation"), None)
    assert ("the generation" in capsys.readouterr().out) == enabled


def test_background_fills_in_the_result_after_keeping_it(areas):
    kept = []
    show = shows.Background(keep=kept.append)
    show.started([request("a fox")])
    generation = object()
    show.finished(generation, None)
    (area,) = areas
    assert "generating in the background: a fox" in area.shown[0]
    assert kept == [generation] and area.shown[-1] is generation


def test_background_of_several_shows_the_comparison_and_keeps_the_batch(areas):
    kept = []
    show = shows.Background(keep=kept.append)
    show.started([request("a"), request("b")])
    batch = SimpleNamespace(results=[1, 2], comparison="the comparison")
    show.finished(batch, None)
    (area,) = areas
    assert "2 requests running in the background" in area.shown[0]
    assert kept == [batch] and area.shown[-1] == "the comparison"


@pytest.mark.parametrize("error, words", [(CancelledError(), "cancelled before it finished"),
                                          (ConfigurationError("refused"), "refused")])
def test_background_names_an_error_or_a_cancel_where_the_result_would_be(areas, error, words):
    kept = []
    show = shows.Background(keep=kept.append)
    show.started([request()])
    show.finished(None, error)
    (area,) = areas
    assert words in area.shown[-1] and kept == []
    assert ("ConfigurationError" in area.shown[-1]) == isinstance(error, ConfigurationError)


def test_background_refused_as_it_went_out_leaves_no_line_saying_it_runs(areas):
    """A --bg cell whose request the budget refuses at submit: the error is raised in the cell; no line stays
    behind saying that something runs in the background."""
    show = shows.Background()
    show.started([request("a fox")])
    show.refused(ConfigurationError("over budget"))
    (area,) = areas
    assert "generating in the background" in area.shown[0] and area.shown[-1] == ""


def test_background_previews_a_streamed_request_in_its_area(areas):
    show = shows.Background()
    show.started([request(stream=True)])
    show.on_partial(0, BLOB)
    assert areas[0].shown[-1] == "preview 0"


def test_the_clis_lines_say_each_preview_on_stderr(capsys):
    shows.Lines().on_partial(1, BLOB)
    captured = capsys.readouterr()
    assert captured.err == "preview 2 arrived (64x48)\n" and captured.out == ""
