"""History at scale, correctness only: the frame extended record by record equals a fresh build from disk
(bulk parse, and line by line), loaded Records are the written ones, and damage loses nothing else."""

from __future__ import annotations

import dataclasses
import json
import threading

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from wisgate_nb.errors import ConfigurationError
from wisgate_nb.records import History, Record, chunks, loading, rows
from wisgate_nb.records.columns import COLUMNS, FIELDS, LEADING, NOT_COLUMNS, kind_of
from wisgate_nb.records.grades import FRAME_COLUMNS
from wisgate_nb.records.spending import totals

PRICES = {"gpt-image-2": {"per_image": 0.04, "per_1k_tokens": 0.01}, "*": {"per_image": 0.02}}


def _record(i: int, session: str = "s1", **changes) -> Record:
    """A varied record: successes, errors and cancellations, reuse, templates, tags, odd options."""
    status = ("ok", "ok", "error", "ok", "cancelled")[i % 5]
    ok = status == "ok"
    params = {"size": "64x64", "n": 1 + i % 2, "quality": ("low", "high", None)[i % 3], "stream": i % 4 == 0}
    if i % 7 == 0:
        params["background"] = "transparent"
    fields = dict(
        id=f"r{i:05d}", session=session, started_at=f"2026-01-{1 + i % 3:02d}T12:00:{i % 60:02d}.000+00:00",
        prompt=f"a fox number {i} <b>&</b> ünïcode", model=("gpt-image-2", "other-model")[i % 2], status=status,
        endpoint=("generations", "edits")[i % 6 == 0], size="64x64", n=params["n"], quality=params["quality"],
        params={k: v for k, v in params.items() if v is not None}, latency_s=None if i % 9 == 0 else 0.5 + i,
        images=params["n"] if ok else 0,
        paths=tuple(f"r{i:05d}_{j}.png" for j in range(params["n"])) if ok else (),
        thumbs=tuple(f"r{i:05d}_{j}.thumb.jpg" for j in range(params["n"])) if ok else (),
        request_id=f"req_{i}" if i % 3 else None, error=None if ok else f"failed {i}",
        error_type=None if ok else "APIStatusError", total_tokens=100 + i if ok and i % 4 else None,
        usage={"total_tokens": 100 + i, "input_tokens_details": None} if ok else None,
        tags=(("class-a",), (), ("class-b", "keep"))[i % 3], revised_prompts=("better fox", None) if i % 8 == 0 else (),
        source=("api", "magic", "panel")[i % 3], demo=i % 2 == 0, reused=ok and i % 10 == 3,
        profile="draft" if i % 5 == 1 else None, group=f"g{i // 4}" if i % 2 else None,
        template={"name": "poster", "version": 2, "fields": {"subject": i if i % 2 else str(i)}} if i % 6 == 1 else None,
        attempts=1 + i % 3, cache_key=f"key{i % 4}",
    )
    fields.update(changes)
    return Record(**fields)


def _filled(history: History, count: int, start: int = 0, look_every: int = 7) -> list[Record]:
    """Append records one by one, looking at .df now and then and rating/tagging some (as users do)."""
    written = []
    for i in range(start, start + count):
        written.append(history.append(_record(i, session=history.session)))
        if i % look_every == 0:
            assert len(history.df) == len(history)
        if i % 11 == 5:
            history.rate(written[-1].id, i % 6)
        if i % 13 == 6:
            history.tag(written[-min(4, len(written))].id, "later", f"t{i}")
            history.annotate(written[-min(2, len(written))].id, f"note {i}")
    return written


def _no_pyarrow(monkeypatch):
    monkeypatch.setattr(loading, "_pyarrow", lambda: None)


def _bulk_only(monkeypatch):
    """Fail if any file is read line by line: the bulk parse must have taken it all."""
    def refuse(*args, **kwargs):
        raise AssertionError("read line by line")

    monkeypatch.setattr(loading, "_line_by_line", refuse)


@pytest.mark.parametrize("rows_at_a_time", [7, chunks._SLICE])
def test_the_frame_extended_record_by_record_equals_a_fresh_build_in_bulk_and_line_by_line(tmp_path, monkeypatch,
                                                                                          rows_at_a_time):
    monkeypatch.setattr(chunks, "_SLICE", rows_at_a_time)
    history = History.create(tmp_path, "s1")
    _filled(history, 120)
    grown = history.df
    with monkeypatch.context() as patch:
        _bulk_only(patch)
        bulk = History.load(history.folder)
    assert_frame_equal(grown, bulk.df)
    assert_frame_equal(history.images_df, bulk.images_df)
    for by in ("model", "tags", "day", ["model", "status"], "template"):
        assert_frame_equal(history.usage(by=by, prices=PRICES), bulk.usage(by=by, prices=PRICES))
    _no_pyarrow(monkeypatch)
    assert_frame_equal(grown, History.load(history.folder).df)
    assert list(grown.columns) == [*COLUMNS, *FRAME_COLUMNS]
    assert grown["tags"].map(type).eq(tuple).all() and grown["params"].map(type).eq(dict).all()
    assert grown.loc[grown["id"] == "r00005", "rating"].item() == 5


def test_options_every_record_has_are_read_in_bulk_as_they_were_written(tmp_path, monkeypatch):
    history = History.create(tmp_path, "s1")
    for i in range(12):
        options = {"size": f"{64 * (1 + i % 2)}x64", "n": 1 + i % 3, "seed": [i, i + 1], "style": {"a": i, "b": [str(i)]}}
        history.append(_record(i, params=options))
    with monkeypatch.context() as patch:
        _bulk_only(patch)
        bulk = History.load(history.folder)
    assert_frame_equal(bulk.df, history.df)
    assert bulk.df["params"].tolist() == [r.params for r in history.records]
    empty = History.create(tmp_path, "s2")
    for i in range(3):
        empty.append(_record(i, session="s2", params={}))
    assert History.load(empty.folder).df["params"].tolist() == [{}, {}, {}]


def test_loaded_records_are_the_written_ones_with_their_updates(tmp_path):
    history = History.create(tmp_path, "s1")
    _filled(history, 60)
    loaded = History.load(history.folder)
    assert loaded.records == history.records
    assert loaded[-1] == history[-1] and loaded["r00007"] == history["r00007"]
    assert loaded.select(prompt="NUMBER 1", last=3) == history.select(prompt="NUMBER 1", last=3)
    assert loaded.select(group="g3") == history.select(group="g3")
    assert loaded.select(status="error") == history.select(status="error")
    assert loaded.totals(PRICES) == history.totals(PRICES) == totals(history.records, PRICES)
    assert [r.id for r in loaded._by_cache_key("key1")] == [r.id for r in reversed(history.records)
                                                           if r.cache_key == "key1"]


def test_records_beyond_the_kept_ones_are_read_back_from_their_lines(tmp_path, monkeypatch):
    monkeypatch.setattr(rows, "RECENT", 5)
    history = History.create(tmp_path, "s1")
    written = _filled(history, 30)
    assert history[3].id == written[3].id and history[3].usage == written[3].usage
    history.annotate(written[0].id, "read back, then changed")
    assert history[written[0].id].note == "read back, then changed"
    assert history.records == History.load(history.folder).records
    assert history.select(group="g1") == [r for r in history.records if r.group == "g1"]


def test_a_torn_last_line_is_skipped_with_a_warning_and_appending_goes_on_after_it(tmp_path):
    history = History.create(tmp_path, "s1")
    _filled(history, 20)
    with open(history.folder / "history.jsonl", "ab") as fh:
        fh.write(b'{"kind": "record", "id": "half-writ')
    with pytest.warns(UserWarning, match="cut short"):
        resumed = History.load(history.folder)
    assert len(resumed) == 20
    resumed.append(_record(500, session="s1"))  # a new session over the damaged log
    with pytest.warns(UserWarning, match="not history records"):
        again = History.load(history.folder)
    assert [r.id for r in again][-2:] == ["r00019", "r00500"]
    assert_frame_equal(again.df, resumed.df)


def test_a_damaged_line_in_the_middle_costs_that_line_only(tmp_path, monkeypatch):
    history = History.create(tmp_path, "s1")
    _filled(history, 30)
    path = history.folder / "history.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:10] + [b"{not json at all\n", b"\n"] + lines[10:]))
    with pytest.warns(UserWarning, match="skipped 1 line"):
        damaged = History.load(history.folder)
    assert_frame_equal(damaged.df, history.df)
    assert damaged.records == history.records


@pytest.mark.parametrize("rows_at_a_time", [4, chunks._SLICE])
def test_a_folder_of_sessions_is_read_together(tmp_path, monkeypatch, rows_at_a_time):
    """(List columns are made into tuples a slice of rows at a time: slices that cut across sessions too.)"""
    monkeypatch.setattr(chunks, "_SLICE", rows_at_a_time)
    sessions = [History.create(tmp_path, f"s{k}") for k in range(3)]
    for k, history in enumerate(sessions):
        _filled(history, 15, start=100 * k)
    with monkeypatch.context() as patch:
        _bulk_only(patch)
        both = History.load(tmp_path)
    assert len(both) == 45 and sorted({r.session for r in both}) == ["s0", "s1", "s2"]
    expected = pd.concat([h.df for h in sessions], ignore_index=True)
    assert_frame_equal(both.df, expected)
    assert all(str(tmp_path / r.session) in str(p) for r in both for p in both.full_paths(r))
    _no_pyarrow(monkeypatch)
    assert_frame_equal(History.load(tmp_path).df, expected)


@pytest.mark.parametrize("piece", [700, 5000, 1 << 24])
def test_files_read_in_pieces_of_any_size_give_the_same_history(tmp_path, monkeypatch, piece):
    """Big files are cut into pieces, small ones put together; a damaged line sends only its piece to the
    line-by-line reader; where each line is gets found when a record is first read back."""
    monkeypatch.setattr(loading, "PIECE", piece)
    sessions = [History.create(tmp_path, f"s{k}") for k in range(3)]
    for k, history in enumerate(sessions):
        _filled(history, (40, 3, 25)[k], start=100 * k)
    path = sessions[0].folder / "history.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:20] + [b'{"kind": "record", "id": "cut sh\n'] + lines[20:]))
    with pytest.warns(UserWarning, match="skipped 1 line"):
        loaded = History.load(tmp_path)
    assert_frame_equal(loaded.df, pd.concat([h.df for h in sessions], ignore_index=True))
    assert loaded.records == [r for h in sessions for r in h.records]


def test_a_line_longer_than_the_parsers_blocks_is_read_back(tmp_path):
    """The bulk parser takes 256 KiB to 1 MiB at a time; a record with a longer prompt still loads exactly."""
    history = History.create(tmp_path, "s1")
    written = [history.append(_record(i, prompt=f"{i}: " + "a very long prompt " * (30_000 if i == 3 else 1)))
               for i in range(8)]
    assert len(written[3].prompt) > 1 << 19
    loaded = History.load(history.folder)
    assert loaded.records == history.records
    assert_frame_equal(loaded.df, history.df)


def test_values_whose_types_differ_between_pieces_keep_their_types(tmp_path, monkeypatch):
    monkeypatch.setattr(loading, "PIECE", 3000)  # a few records a piece: each piece infers its own types
    history = History.create(tmp_path, "s1")
    seeds = [1, True, 1.0, "1", 2, None, [1, 2]] * 3
    for i, seed in enumerate(seeds):
        history.append(_record(i, params={"size": "64x64", "seed": seed},
                               template={"name": "t", "version": 1, "fields": {"subject": seed}}))
    loaded = History.load(history.folder)
    assert_frame_equal(loaded.df, history.df)
    assert [p.get("seed") for p in loaded.df["params"]] == seeds
    assert [type(p.get("seed")) for p in loaded.df["params"]] == [type(s) if s is not None else type(None) for s in seeds]
    assert loaded.records == history.records


@pytest.mark.parametrize("updates", [True, False])
def test_a_file_written_with_two_records_on_a_line_is_still_read_back_exactly(tmp_path, updates):
    history = History.create(tmp_path, "s1")
    if updates:
        _filled(history, 8)
    else:  # a piece in bulk with no update lines: where each line is gets found on first need
        for i in range(8):
            history.append(_record(i))
    path = history.folder / "history.jsonl"
    lines = path.read_bytes().splitlines()
    path.write_bytes(b"\n".join(lines[:3] + [lines[3] + b" " + lines[4]] + lines[5:]) + b"\n")
    loaded = History.load(history.folder)
    assert len(loaded) == 8 and loaded.records == history.records


def test_a_line_given_twice_counts_once_and_the_last_one_stands(tmp_path):
    history = History.create(tmp_path, "s1")
    _filled(history, 5)
    with open(history.folder / "history.jsonl", "a") as fh:
        fh.write(json.dumps(_record(2, prompt="written again").to_json()) + "\n")
    loaded = History.load(history.folder)
    assert len(loaded) == 5 and loaded["r00002"].prompt == "written again"
    assert loaded.df["id"].tolist() == ["r00000", "r00001", "r00003", "r00004", "r00002"]


def test_appends_from_another_thread_while_the_main_thread_reads_the_frame(tmp_path):
    history = History.create(tmp_path, "s1")
    done = threading.Event()

    def engine():
        for i in range(300):
            history.append(_record(i))
        done.set()

    thread = threading.Thread(target=engine)
    thread.start()
    seen = []
    while not done.is_set() or not seen or len(seen[-1]) < 300:
        frame = history.df
        seen.append(frame)
        assert frame["id"].tolist() == [f"r{i:05d}" for i in range(len(frame))]  # always a prefix, in order
    thread.join()
    assert_frame_equal(seen[-1], History.load(history.folder).df)


def test_changing_a_returned_frame_leaves_the_history_alone(tmp_path):
    history = History.create(tmp_path, "s1")
    _filled(history, 10)
    frame = history.df
    frame.loc[0, "prompt"] = "changed by the user"
    frame["extra"] = 1
    frame.loc[1, "rating"] = 3
    fresh = history.df
    assert fresh.loc[0, "prompt"] == _record(0).prompt and "extra" not in fresh and pd.isna(fresh.loc[1, "rating"])


def test_a_log_changed_under_a_loaded_history_is_a_clear_error(tmp_path):
    history = History.create(tmp_path, "s1")
    _filled(history, 10)
    loaded = History.load(history.folder)
    path = history.folder / "history.jsonl"
    path.write_bytes(b"\n".join(path.read_bytes().splitlines()[3:]) + b"\n")
    with pytest.raises(ConfigurationError, match="load the history again"):
        loaded[0]


def test_every_record_field_is_a_column_unless_listed_and_its_kind_comes_from_its_annotation():
    assert COLUMNS[: len(LEADING)] == LEADING
    assert set(FIELDS) - set(COLUMNS) == set(NOT_COLUMNS)
    # a field another branch adds (e.g. attempt_statuses, request_id_header) would need no change here
    assert [kind_of(a) for a in ("tuple[int, ...]", "str | None", "int", "int | None", "float | None", "dict")] == [
        "tuple", "str", "int", "Int", "float", "dict"]
    extra = dataclasses.make_dataclass("Extra", [("attempt_statuses", "tuple[int, ...]", dataclasses.field(default=()))])
    assert kind_of(dataclasses.fields(extra)[0].type) == "tuple"
