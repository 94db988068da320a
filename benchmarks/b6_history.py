"""B6: histories of 1,000, 10,000 and 100,000 requests × 2 images: load, History.df, appends, memory.

Each size runs in a fresh child process, so that its resident memory is not this run's. The history
file is written with the records' own JSON form (no image files: the table never opens them). pandas
and pyarrow are imported before any clock starts (their import is reported on its own). The baseline
is ``pyarrow.json.read_json`` of the same file, timed in the same process, interleaved with
``History.load`` (one of each per repetition), so that both see the same machine.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.common import REPO, Mode, Row, child_env, ratio, stats

SIZES = (1_000, 10_000, 100_000)
QUICK_SIZES = (1_000, 10_000)
MEMORY_TARGET_MB = {1_000: 50, 10_000: 200, 100_000: 200}
_SUBJECTS = ("a red fox", "a lighthouse", "a bowl of ramen", "a koi pond", "a neon street", "a snow leopard",
             "a paper boat", "a hot air balloon", "a vintage bicycle", "a glass teapot")
_STYLES = ("at dusk, film grain", "in watercolour", "studio light, high detail", "isometric, pastel colours",
           "as a linocut print")
SESSION = "20260101-120000-bench"


def bench_record(i: int, session: str = SESSION):
    """A realistic successful record of 2 images."""
    from wisgate_nb.records import Record

    rid = f"{120000 + i // 60:06d}-{i:06x}"
    size = ("1024x1024", "1536x1024")[i % 2]
    return Record(
        id=rid, session=session, started_at=f"2026-01-01T12:{i // 60 % 60:02d}:{i % 60:02d}.000+00:00",
        prompt=f"{_SUBJECTS[i % 10]} {_STYLES[i % 5]}, variation {i}, wide angle, soft shadows", model="gpt-image-2",
        status="ok", size=size, n=2, quality="high", params={"size": size, "n": 2, "quality": "high"},
        latency_s=12.5 + i % 7, images=2, paths=(f"{rid}_0.png", f"{rid}_1.png"),
        thumbs=(f"{rid}_0.thumb.jpg", f"{rid}_1.thumb.jpg"), request_id=f"req_{i:032x}", total_tokens=8400,
        usage={"input_tokens": 40, "output_tokens": 8360, "total_tokens": 8400},
        tags=("bench", _SUBJECTS[i % 10].split()[-1]), revised_prompts=(None, None), cache_key=f"{i:032x}", attempts=1,
    )


def write_history(folder: Path, records: int) -> Path:
    """A session folder with ``records`` successful requests of 2 images each."""
    from wisgate_nb.records import HISTORY_FILE

    path = folder / SESSION
    path.mkdir(parents=True)
    with open(path / HISTORY_FILE, "w", encoding="utf-8") as fh:
        for i in range(records):
            fh.write(json.dumps(bench_record(i).to_json(), ensure_ascii=False, default=str) + "\n")
    return path


def child(folder: str, records: int, reps: int) -> None:
    """Runs in the child process: prints one JSON object of timings (ms) and memory (MB)."""
    import gc
    import time

    from benchmarks.common import rss_bytes

    t0 = time.perf_counter()
    import pandas  # noqa: F401 - imported before the clock on purpose
    import pyarrow.json

    import_ms = (time.perf_counter() - t0) * 1000
    from wisgate_nb.records import History

    def ms(fn):
        t0 = time.perf_counter()
        result = fn()
        return (time.perf_counter() - t0) * 1000, result

    gc.collect()
    rss0 = rss_bytes()
    first_load, history = ms(lambda: History.load(folder))
    first_df, frame = ms(lambda: history.df)
    gc.collect()
    rss1, peak = rss_bytes(), _peak_bytes()
    assert len(frame) == records and int(frame["images"].sum()) == 2 * records
    file = str(Path(folder) / "history.jsonl")
    loads, arrow = [first_load], []
    for _ in range(reps):  # interleaved: the baseline and ours see the same machine
        arrow.append(ms(lambda: pyarrow.json.read_json(file))[0])
        loads.append(ms(lambda: History.load(folder))[0])
    dfs = [ms(lambda: history.df)[0] for _ in range(50)]
    usage = [ms(lambda: history.usage(by="model"))[0] for _ in range(5)]
    appends, df_after, usage_after = [], [], []
    for i in range(records, records + 40):
        appends.append(ms(lambda i=i: history.append(bench_record(i)))[0])
        df_after.append(ms(lambda: history.df)[0])
        usage_after.append(ms(lambda: history.usage(by="model"))[0])
    with tempfile.TemporaryDirectory() as empty:  # the baseline: the same appends (and looks) with nothing loaded
        fresh, empty_appends = History.create(empty, SESSION), []
        for i in range(40):
            empty_appends.append(ms(lambda i=i: fresh.append(bench_record(i)))[0])
            fresh.df, fresh.usage(by="model")
    print(json.dumps({"load_ms": loads, "arrow_ms": arrow, "first_df_ms": first_df, "df_ms": dfs, "usage_ms": usage,
                      "append_ms": appends, "df_after_append_ms": df_after, "usage_after_append_ms": usage_after,
                      "empty_append_ms": empty_appends, "import_ms": import_ms, "rss_added_mb": (rss1 - rss0) / 2**20,
                      "peak_added_mb": (peak - rss0) / 2**20 if peak else None}))


def _peak_bytes() -> int:
    """The process's peak resident set size (VmHWM), from /proc (Linux); 0 elsewhere."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _measure(records: int, reps: int) -> tuple[dict, float]:
    with tempfile.TemporaryDirectory(prefix="wisgate-b6-") as tmp:
        folder = write_history(Path(tmp), records)
        size_mb = (folder / "history.jsonl").stat().st_size / 2**20
        code = f"from benchmarks.b6_history import child; child({str(folder)!r}, {records}, {reps})"
        out = subprocess.run([sys.executable, "-c", code], check=False, cwd=REPO, env=child_env(), capture_output=True,
                             text=True, timeout=600)
        if out.returncode:
            raise RuntimeError(out.stderr.strip().splitlines()[-1] if out.stderr.strip() else "child failed")
        return json.loads(out.stdout.strip().splitlines()[-1]), size_mb


def run(server, mode: Mode) -> list[Row]:
    rows = []
    for records in QUICK_SIZES if mode.quick else SIZES:
        reps = mode.reps(7 if records >= 100_000 else 11, 2)
        data, size_mb = _measure(records, reps)
        load, arrow = stats(data["load_ms"][1:]), stats(data["arrow_ms"])
        df, append, empty = stats(data["df_ms"]), stats(data["append_ms"]), stats(data["empty_append_ms"])
        after, usage_after = stats(data["df_after_append_ms"]), stats(data["usage_after_append_ms"])
        common = {"records": records, "images": 2 * records, "history_jsonl_mb": round(size_mb, 2),
                  "pandas_pyarrow_import_ms": data["import_ms"]}
        load_ratio = ratio(load["median"], arrow["median"])
        rss, peak = data["rss_added_mb"], data["peak_added_mb"]
        rows += [
            Row("B6", f"History.load of {records:,} records ({size_mb:.1f} MB history.jsonl, median of {reps}; "
                f"first load {data['load_ms'][0]:.0f} ms)", load["median"], "ms",
                baselines={"pyarrow.json.read_json": arrow["median"]}, ratio=load_ratio, ratio_of="load / pyarrow",
                target="≤ 1.5× pyarrow", met=load_ratio is not None and load_ratio <= 1.5,
                extra={**common, "load_ms": data["load_ms"], "arrow_ms": data["arrow_ms"]}),
            Row("B6", f"History.df again, {records:,} records (median of 50; first .df {data['first_df_ms']:.0f} ms, "
                f".df after an append {after['median']:.1f} ms)", df["median"], "ms", target="≤ 5 ms",
                met=df["median"] <= 5, extra={**common, "first_df_ms": data["first_df_ms"], "df_ms": data["df_ms"],
                                              "df_after_append_ms": data["df_after_append_ms"],
                                              "usage_ms": data["usage_ms"],
                                              "usage_after_append_ms": data["usage_after_append_ms"]},
                note=f"{records:,}: usage(by='model') {stats(data['usage_ms'])['median']:.1f} ms, "
                     f"{usage_after['median']:.1f} ms after an append"),
            Row("B6", f"append one record (fsynced) with {records:,} loaded (median of 40)", append["median"], "ms",
                baselines={"append to an empty history": empty["median"]}, ratio=ratio(append["median"], empty["median"]),
                ratio_of="loaded / empty", target="≤ 2 ms", met=append["median"] <= 2,
                extra={**common, "append_ms": data["append_ms"], "empty_append_ms": data["empty_append_ms"]}),
            Row("B6", f"memory added by {records:,} loaded records + their DataFrame"
                + (f" (peak during the load and first .df: +{peak:.0f} MB)" if peak else ""), rss, "MB",
                target=f"≤ {MEMORY_TARGET_MB[records]} MB, the peak too",  # the issue measured the peak
                met=max(rss, peak or 0) <= MEMORY_TARGET_MB[records],
                extra={**common, "peak_added_mb": peak}),
        ]
    return rows
