"""The caches after a kernel restart: ``cache=True`` and the grade cache also know the earlier sessions of the
same history folder, so a restarted kernel's Run All, or an experiment a dead kernel left half done, sends only
what was never done. A "restart" here is a second ``Session`` on the same history_dir, as a new kernel makes.
"""

from __future__ import annotations

import json
import time
import warnings
from pathlib import Path

import nbformat
import pytest
from bounds import EARLIER_LOOKUP_S
from conftest import TEST_KEY
from judge_helpers import EXPERIMENT, interrupt_an_experiment
from reliability_helpers import run_in_demo_kernel, write_image

import wisgate_nb as wg
from wisgate_nb.config import WisGate
from wisgate_nb.core.session import Session, set_current
from wisgate_nb.emulator import Fault
from wisgate_nb.errors import ConfigurationError
from wisgate_nb.records import earlier
from wisgate_nb.records.record import Record
from wisgate_nb.records.reuse import cache_key, find_reusable
from wisgate_nb.records.store import History


@pytest.fixture
def restart(session, server):
    """``restart()``: a new kernel session on the same history folder becomes the current one."""
    made: list[Session] = []

    def new_session() -> Session:
        config = WisGate(api_key=TEST_KEY, base_url=server.base_url, demo=False,
                         history_dir=session.config.history_dir, max_retries=2)
        made.append(Session(config))
        set_current(made[-1])
        return made[-1]

    yield new_session
    set_current(session)
    for one in made:
        one.close()


def _chats(server) -> list:
    return [r for r in server.emulator.requests if r.path.endswith("/chat/completions")]


def _files(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(folder.iterdir()) if p.is_file()}


def test_a_restarted_kernel_reuses_an_earlier_sessions_result(session, server, restart):
    first = wg.generate("a red fox", size="64x64", n=2, cache=True)
    old_folder = first.paths[0].parent
    before = _files(old_folder)
    server.emulator.reset()
    new = restart()
    again = wg.generate("a red fox", size="64x64", n=2, cache=True)
    assert server.emulator.requests == []  # nothing sent
    assert again.reused and again.record.reused and again.record.session == new.history.session != first.record.session
    assert [p.parent for p in again.paths] == [new.history.folder] * 2
    for old_path, new_path in zip(first.paths + first.thumbnails, again.paths + again.thumbnails):
        assert new_path.samefile(old_path)  # linked, not sent again
    assert _files(old_folder) == before  # the old session's files and lines are as they were
    assert [r.id for r in new.history.records] == [again.record.id]
    assert wg.generate("a red fox", size="64x64", n=2).reused is False  # without cache, sent as always
    assert len(server.emulator.image_requests) == 1


def test_a_restart_does_not_reuse_another_prompt_options_or_inputs(session, server, restart, tmp_path):
    one, two = write_image(tmp_path / "one.png", (64, 64)), write_image(tmp_path / "two.png", (64, 48))
    wg.generate("a red fox", size="64x64", cache=True)
    wg.edit(one, "make it night", size="64x64", cache=True)
    server.emulator.reset()
    restart()
    assert not wg.generate("a blue whale", size="64x64", cache=True).reused
    assert not wg.generate("a red fox", size="256x256", cache=True).reused
    assert not wg.generate("a red fox", size="64x64", quality="high", cache=True).reused
    assert not wg.edit(two, "make it night", size="64x64", cache=True).reused
    assert not wg.edit(one, "make it dawn", size="64x64", cache=True).reused
    assert len(server.emulator.image_requests) == 5
    assert wg.edit(one, "make it night", size="64x64", cache=True).reused  # the same edit is
    assert wg.generate("a red fox", size="64x64", cache=True).reused
    assert len(server.emulator.image_requests) == 5


def test_a_restart_does_not_reuse_a_failed_result_nor_one_whose_files_are_gone(session, server, restart):
    server.emulator.schedule(Fault("status", 400, message="refused"))
    with pytest.raises(wg.WisGateError):
        wg.generate("a red fox", size="64x64", cache=True)
    gone = wg.generate("a blue whale", size="64x64", cache=True)
    gone.paths[0].unlink()
    server.emulator.reset()
    restart()
    assert not wg.generate("a red fox", size="64x64", cache=True).reused
    assert not wg.generate("a blue whale", size="64x64", cache=True).reused
    assert len(server.emulator.image_requests) == 2


def test_this_sessions_result_comes_first_then_the_newest_earlier_one(session, server, restart):
    wg.generate("a red fox", size="64x64")  # sessions 1 and 2 each made it, without the cache
    restart()
    second = wg.generate("a red fox", size="64x64")
    restart()
    newest_earlier = wg.generate("a red fox", size="64x64", cache=True)
    assert newest_earlier.reused and newest_earlier.paths[0].samefile(second.paths[0])
    own = wg.generate("a red fox", size="64x64")
    assert not own.reused
    again = wg.generate("a red fox", size="64x64", cache=True)
    assert again.reused and again.paths[0].samefile(own.paths[0]) and not again.paths[0].samefile(second.paths[0])


def test_run_all_after_a_kernel_restart_reuses_what_the_first_kernel_made(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code) for code in (
        "%load_ext wisgate_nb",
        "%%wisgate_image --cache -s 64x64 -n 2\na red fox in the snow",
        "import wisgate_nb as wg\nprint(*[(r.session, r.reused) for r in wg.history().records])")])
    run_in_demo_kernel(nb, tmp_path)  # the first kernel: sent
    first_run = nb.cells[2].outputs[0]["text"]
    old_folder = next((tmp_path / "runs").iterdir())
    before = _files(old_folder)
    nb = nbformat.reads(nbformat.writes(nb), as_version=4)
    run_in_demo_kernel(nb, tmp_path)  # a new kernel, Run All again: reused
    second_run = nb.cells[2].outputs[0]["text"]
    assert first_run == f"('{old_folder.name}', False)\n"
    assert "True" in second_run and old_folder.name not in second_run
    assert "reused" in nb.cells[1].outputs[-1]["data"]["text/html"]
    assert _files(old_folder) == before and len(list((tmp_path / "runs").iterdir())) == 2


def test_grades_of_an_earlier_session_are_not_asked_for_again(session, server, restart):
    first = wg.generate("a red fox", size="64x64", n=2, cache=True)
    graded = wg.grade(first, "a red fox")
    assert len(_chats(server)) == 2
    server.emulator.reset()
    new = restart()
    again = wg.generate("a red fox", size="64x64", n=2, cache=True)
    regraded = wg.grade(again, "a red fox")
    assert server.emulator.requests == []
    assert [g.score for g in regraded] == [g.score for g in graded] and all(g.cached for g in regraded)
    lines = [json.loads(t) for t in (new.history.folder / "grades.jsonl").read_text().splitlines()]
    assert sorted((g["id"], g["index"], g["cached"]) for g in lines) == [(again.record.id, 0, True), (again.record.id, 1, True)]
    assert new.history.df["grade"].tolist() == [graded.mean]
    with pytest.raises(ConfigurationError, match=first.record.id):  # another session's records stay refused by name
        wg.grade([first.record.id], "a red fox")


def test_an_interrupted_experiment_resumes_after_a_kernel_restart(session, server, restart):
    interrupt_an_experiment(session, server)  # the kernel dies in the middle of the sweep
    assert {r.prompt: r.status for r in session.history.records} == {
        "a red fox": "ok", "a fox in the snow": "cancelled", "a blue car": "cancelled"}
    server.emulator.reset()
    restart()
    resumed = wg.experiment(**EXPERIMENT)  # a new kernel, the same cell: only what was not done is sent
    assert sorted(r.json["prompt"] for r in server.emulator.image_requests) == ["a blue car", "a fox in the snow"]
    assert [r.reused for r in resumed.records] == [True, False, False]
    assert resumed.summary()["graded"].tolist() == [2, 2, 2] and len(_chats(server)) == 6
    server.emulator.reset()
    restart()
    again = wg.experiment(**EXPERIMENT)  # all done before the restart: nothing is sent, not even to the judge
    assert server.emulator.requests == []
    assert all(r.reused for r in again.records) and all(g.cached for g in again.grades)
    assert again.summary()["mean"].tolist() == resumed.summary()["mean"].tolist()


_TEMPLATE = Record(id="", session="", started_at="", prompt="a fox", model="gpt-image-2", status="ok", size="64x64",
                   params={"size": "64x64", "quality": "low"}, latency_s=1.0, images=1,
                   usage={"total_tokens": 10}).to_json()


def _session(root: Path, session: str, rows: list[tuple[str, str, str]], with_files: int = 1) -> list[Record]:
    """A session folder of successful results, one per (id, started_at, cache key); the last ``with_files``
    of them have their image and thumbnail files."""
    folder = root / session
    folder.mkdir(parents=True)
    records = [Record.from_json({**_TEMPLATE, "id": record_id, "session": session, "started_at": started,
                                 "paths": [f"{record_id}_0.png"], "thumbs": [f"{record_id}_0.thumb.jpg"],
                                 "cache_key": key}) for record_id, started, key in rows]
    (folder / "history.jsonl").write_text("".join(json.dumps(r.to_json()) + "\n" for r in records))
    for record in records[len(records) - with_files:]:
        write_image(folder / record.paths[0], (64, 64))
        write_image(folder / record.thumbs[0], (32, 32), "JPEG")
    return records


def _many_sessions(root: Path, sessions: int, records: int) -> Record:
    """``sessions`` folders of ``records`` successful results each; the last result's files exist."""
    for s in range(sessions):
        made = _session(root, f"20261201-0000{s:02d}-{s:04x}", [
            (f"{s:03d}{r:03d}-abcdef", f"2026-12-01T00:{s:02d}:{r:02d}", f"key-{s}-{r}") for r in range(records)],
            with_files=1 if s == sessions - 1 else 0)
    return made[-1]


def test_of_earlier_sessions_the_newest_result_is_reused_whatever_the_folders_are_named(tmp_path):
    _session(tmp_path / "runs", "b-older", [("000001-aaaaaa", "2026-12-01T10:00:00", "same")])
    newer = _session(tmp_path / "runs", "a-newer", [("000002-bbbbbb", "2026-12-02T09:00:00", "same")])[0]
    assert find_reusable(History.create(tmp_path / "runs"), "same").id == newer.id


def test_the_earlier_sessions_are_read_once_and_quickly(tmp_path, monkeypatch):
    last = _many_sessions(tmp_path / "runs", 100, 100)
    reads = []
    real = earlier._scan
    monkeypatch.setattr(earlier, "_scan", lambda path: reads.append(path) or real(path))
    history = History.create(tmp_path / "runs")
    t0 = time.perf_counter()
    found = find_reusable(history, last.cache_key)
    took = time.perf_counter() - t0
    assert found is not None and found.id == last.id and history.full_paths(found)[0].exists()
    assert took < EARLIER_LOOKUP_S, f"the first lookup over 100 sessions × 100 records took {took:.3f} s"
    assert find_reusable(history, "key-3-4") is None  # its files are gone
    assert find_reusable(history, cache_key("generations", "x", "m", "p", {})) is None
    assert len(reads) == 100  # one read of each session's history.jsonl, however many lookups


def test_a_damaged_or_foreign_session_folder_is_skipped_with_one_warning(tmp_path):
    last = _many_sessions(tmp_path / "runs", 2, 3)
    (tmp_path / "runs" / "notes").mkdir()
    (tmp_path / "runs" / "notes" / "history.jsonl").write_text('{"title": "not ours"}\n{"title": "nor this"}\n')
    (tmp_path / "runs" / "broken").mkdir()
    (tmp_path / "runs" / "broken" / "history.jsonl").write_bytes(b"\x00\xff garbage\n{}\n")
    (tmp_path / "runs" / "notes" / "grades.jsonl").write_text("neither\n")
    history = History.create(tmp_path / "runs")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert find_reusable(history, last.cache_key).id == last.id
        assert find_reusable(history, "key-0-0") is None
        assert history.grade_book.cached("0123", "a fox", "judge") is None  # "notes" was named already
    assert len(caught) == 1 and "notes" in str(caught[0].message) and "1 more" in str(caught[0].message)


def test_a_damaged_line_costs_only_that_line(tmp_path):
    last = _many_sessions(tmp_path / "runs", 1, 3)
    folder = tmp_path / "runs" / last.session
    with open(folder / "history.jsonl", "a") as fh:
        fh.write('{"kind": "record", "id": "cut-sh')  # a crash cut the last line short
    grade = {"id": last.id, "index": 0, "digest": "0123", "rubric": "a fox", "judge": "judge", "score": 4, "pass": True}
    (folder / "grades.jsonl").write_text(json.dumps({**grade, "digest": "4567"}) + '\n{"id": "torn\n'
                                         + json.dumps(grade) + "\n")
    history = History.create(tmp_path / "runs")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert find_reusable(history, last.cache_key).id == last.id
        assert history.grade_book.cached("0123", " a fox ", "judge")["score"] == 4
        assert history.grade_book.cached("4567", "a fox", "judge")["score"] == 4
        assert history.grade_book.cached("0123", "a fox", "another judge") is None
