"""The history: records on disk as they happen, the DataFrame, reload, compare, sweep, export, usage."""

from __future__ import annotations

import json
import shutil
import threading

import pandas as pd
import pytest

import wisgate_nb
from wisgate_nb.errors import ConfigurationError
from wisgate_nb.records import History


def _lines(session):
    path = session.history.folder / "history.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_every_request_is_on_disk_before_generate_returns(session, server):
    wisgate_nb.generate("a fox", size="128x128")
    with pytest.raises(wisgate_nb.ContentPolicyError):
        wisgate_nb.generate("a forbidden fox", size="128x128")
    lines = _lines(session)
    assert [line["status"] for line in lines] == ["ok", "error"]
    assert lines[1]["error_type"] == "ContentPolicyError"
    for line in lines:
        assert "sk-" not in json.dumps(line)


def test_concurrent_requests_from_several_threads_are_all_recorded_once(session, server):
    errors = []

    def worker(i):
        try:
            for j in range(5):
                wisgate_nb.generate(f"thread {i} fox {j}", size="64x64")
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    lines = _lines(session)
    assert len(lines) == 20 and len({line["id"] for line in lines}) == 20
    assert sorted(line["prompt"] for line in lines) == sorted(f"thread {i} fox {j}" for i in range(4) for j in range(5))
    files = [p for p in session.history.folder.iterdir() if p.suffix == ".png"]
    assert len(files) == 20


def test_dataframe_columns_and_dtypes(session):
    wisgate_nb.generate("a fox", size="128x128", n=2, quality="low")
    df = wisgate_nb.history().df
    required = ["id", "started_at", "prompt", "model", "size", "n", "quality", "status", "latency_s", "images",
                "paths", "request_id", "error", "total_tokens", "tags"]
    assert list(df.columns[: len(required)]) == required
    assert str(df["started_at"].dt.tz) == "UTC"  # aware times, in UTC: never a naive local time
    assert (df["started_at"] - pd.Timestamp.now(tz="UTC")).abs().max() < pd.Timedelta(minutes=5)
    assert df["n"].dtype == "int64" and df["images"].dtype == "int64"
    assert df["latency_s"].dtype == "float64"
    assert str(df["total_tokens"].dtype) == "Int64"
    row = df.iloc[0]
    assert row["status"] == "ok" and row["n"] == 2 and row["quality"] == "low" and len(row["paths"]) == 2
    images = wisgate_nb.history().images_df
    assert len(images) == 2 and list(images["index"]) == [0, 1]


def test_dataframe_holds_no_pixels(session):
    wisgate_nb.generate("a fox", size="256x256")
    df = wisgate_nb.history().df
    assert df.memory_usage(deep=True).sum() < 50_000


def test_load_a_session_and_a_folder_of_sessions_portably(session, tmp_path):
    wisgate_nb.generate("first session fox", size="64x64")
    wisgate_nb.history().rate(wisgate_nb.history().records[0].id, 4)
    folder = session.history.folder
    other = History.create(folder.parent)
    moved = tmp_path / "elsewhere"
    # a second session beside the first
    from wisgate_nb.core.session import Session

    s2 = Session(session.config, history=other)
    s2.run(s2.prepare("second session cat", size="64x64"))
    s2.close()
    shutil.copytree(folder.parent, moved)

    one = History.load(moved / folder.name)
    assert [r.prompt for r in one] == ["first session fox"]
    assert one.records[0].rating == 4
    assert all(p.exists() and str(moved) in str(p) for p in one.full_paths(one.records[0]))
    both = History.load(moved)
    assert sorted(r.prompt for r in both) == ["first session fox", "second session cat"]
    assert len(both.df) == 2


def test_load_survives_a_torn_last_line(session):
    wisgate_nb.generate("a fox", size="64x64")
    path = session.history.folder / "history.jsonl"
    with open(path, "a") as fh:
        fh.write('{"kind": "record", "id": "half')
    assert len(History.load(session.history.folder)) == 1


def test_load_of_an_empty_folder_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigurationError, match="history.jsonl"):
        History.load(tmp_path)


def test_rate_tag_and_note_are_persisted(session):
    g = wisgate_nb.generate("a fox", size="64x64")
    h = wisgate_nb.history()
    h.rate(g.id, 5)
    h.tag(g.id, "keeper", "fox")
    h.annotate(g.id, "best so far")
    with pytest.raises(ConfigurationError):
        h.rate(g.id, 9)
    loaded = History.load(h.folder)
    record = loaded[g.id]
    assert (record.rating, record.tags, record.note) == (5, ("keeper", "fox"), "best so far")


def test_sweep_runs_the_cartesian_product_and_returns_the_comparison(session, server):
    server.emulator.config.latency = 0.3
    cmp = wisgate_nb.sweep(prompts=["a fox", "a cat"], size=["64x64", "128x128"], quality=["low", "high"])
    assert len(server.emulator.image_requests) == 8
    assert len(cmp.records) == 8 and len({r.group for r in cmp.records}) == 1
    assert cmp.keys == ["size", "quality"]
    columns, rows = cmp.layout()  # a full grid: a column per prompt in the order given, a row per combination
    assert columns == ["a fox", "a cat"] and len(rows) == 4
    assert [label for label, _ in rows][0] == "size=64x64, quality=low"
    assert [[r.prompt for r in cells] for _, cells in rows] == [["a fox", "a cat"]] * 4
    html = cmp._repr_html_()
    assert "size=64x64, quality=low" in html and html.count("<img") == 8


def test_sweep_validates_everything_before_sending(session, server):
    with pytest.raises(ConfigurationError):
        wisgate_nb.sweep(prompts=["a fox"], size=["64x64", "1x1"])
    assert server.emulator.image_requests == []


def test_compare_by_ids_prompt_and_last(session):
    a = wisgate_nb.generate("a fox", size="64x64", quality="low")
    b = wisgate_nb.generate("a fox", size="64x64", quality="high")
    wisgate_nb.generate("a cat", size="64x64")
    h = wisgate_nb.history()
    assert [r.id for r in h.compare([a.id, b.id]).records] == [a.id, b.id]
    assert len(h.compare(prompt="FOX").records) == 2
    assert len(h.compare(last=1).records) == 1
    assert h.compare([a.id, b.id]).keys == ["quality"]


def test_exports_csv_parquet_and_contact_sheet(session, tmp_path):
    wisgate_nb.generate("a <b>bold</b> fox & friends", size="64x64", tags=["x"])
    h = wisgate_nb.history()
    csv = pd.read_csv(h.to_csv(tmp_path / "h.csv"))
    assert csv.loc[0, "prompt"] == "a <b>bold</b> fox & friends"
    parquet = pd.read_parquet(h.to_parquet(tmp_path / "h.parquet"))
    assert list(parquet.loc[0, "tags"]) == ["x"]
    sheet = h.contact_sheet(tmp_path / "sheet.html").read_text()
    assert "<b>bold</b>" not in sheet and "&lt;b&gt;bold&lt;/b&gt;" in sheet
    assert "data:image/jpeg;base64," in sheet and "src=\"wisgate_runs" not in sheet


def test_usage_by_model_tags_day_profile(session):
    session.config.prices = {"gpt-image-2": {"per_image": 0.04}}
    wisgate_nb.generate("a fox", size="64x64", n=2, tags=["class-a"])
    wisgate_nb.generate("a cat", size="64x64", tags=["class-b"])
    h = wisgate_nb.history()
    by_model = h.usage(by="model", prices=session.config.prices)
    assert by_model.loc[0, "images"] == 3 and by_model.loc[0, "requests"] == 2
    assert by_model.loc[0, "cost"] == pytest.approx(0.12)
    by_tags = h.usage(by="tags").set_index("tags")
    assert by_tags.loc["class-a", "images"] == 2 and by_tags.loc["class-b", "images"] == 1
    assert len(h.usage(by="day")) == 1 and len(h.usage(by="profile")) == 1
    totals = h.totals()
    assert totals["images"] == 3 and totals["total_tokens"] == sum(r.total_tokens for r in h.records)
    with pytest.raises(ConfigurationError):
        h.usage(by="colour")


def test_history_renders_a_thumbnail_table(session):
    wisgate_nb.generate("a <script>alert(1)</script> fox", size="64x64")
    html = wisgate_nb.history()._repr_html_()
    assert "<script>" not in html and "&lt;script&gt;" in html and "<img" in html
