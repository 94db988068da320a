"""B6: a history of 1,000 requests × 2 images: History.df, reload from disk, memory added.

Measured in a fresh child process so that its resident memory is not this run's. The history
file is written with the records' own JSON form (no image files: the table never opens them).
pandas is imported before the clock starts (its import is reported on its own): the numbers are
what the history costs, not the library.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.common import REPO, Mode, Row, child_env, stats

RECORDS = 1000
_SUBJECTS = ("a red fox", "a lighthouse", "a bowl of ramen", "a koi pond", "a neon street", "a snow leopard",
             "a paper boat", "a hot air balloon", "a vintage bicycle", "a glass teapot")
_STYLES = ("at dusk, film grain", "in watercolour", "studio light, high detail", "isometric, pastel colours",
           "as a linocut print")


def write_history(folder: Path, records: int = RECORDS) -> Path:
    """A session folder with ``records`` successful requests of 2 images each."""
    from wisgate_nb.history import HISTORY_FILE, Record

    session = "20260101-120000-bench"
    path = folder / session
    path.mkdir(parents=True)
    with open(path / HISTORY_FILE, "w", encoding="utf-8") as fh:
        for i in range(records):
            rid = f"{120000 + i // 60:06d}-{i:06x}"
            prompt = f"{_SUBJECTS[i % 10]} {_STYLES[i % 5]}, variation {i}, wide angle, soft shadows"
            size = ("1024x1024", "1536x1024")[i % 2]
            record = Record(
                id=rid, session=session, started_at=f"2026-01-01T12:{i // 60 % 60:02d}:{i % 60:02d}.000+00:00",
                prompt=prompt, model="gpt-image-2", status="ok", size=size, n=2, quality="high",
                params={"size": size, "n": 2, "quality": "high"}, latency_s=12.5 + i % 7,
                images=2, paths=(f"{rid}_0.png", f"{rid}_1.png"),
                thumbs=(f"{rid}_0.thumb.jpg", f"{rid}_1.thumb.jpg"), request_id=f"req_{i:032x}",
                total_tokens=8400, usage={"input_tokens": 40, "output_tokens": 8360, "total_tokens": 8400},
                tags=("bench", _SUBJECTS[i % 10].split()[-1]), revised_prompts=(None, None),
                cache_key=f"{i:032x}", attempts=1,
            )
            fh.write(json.dumps(record.to_json(), ensure_ascii=False, default=str) + "\n")
    return path


def child(folder: str, reps: int) -> None:
    """Runs in the child process: prints one JSON object of timings (ms) and memory (MB)."""
    import gc
    import time

    from benchmarks.common import rss_bytes

    t0 = time.perf_counter()
    import pandas  # noqa: F401 - imported before the clock on purpose

    pandas_ms = (time.perf_counter() - t0) * 1000
    from wisgate_nb.history import History

    gc.collect()
    rss0 = rss_bytes()
    t0 = time.perf_counter()
    history = History.load(folder)
    first_load = (time.perf_counter() - t0) * 1000
    t0 = time.perf_counter()
    frame = history.df
    first_df = (time.perf_counter() - t0) * 1000
    gc.collect()
    rss1 = rss_bytes()
    assert len(frame) == RECORDS and int(frame["images"].sum()) == 2 * RECORDS
    loads, dfs = [first_load], [first_df]
    for _ in range(reps - 1):
        t0 = time.perf_counter()
        History.load(folder)
        loads.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        history.df  # noqa: B018 - building the frame is the point
        dfs.append((time.perf_counter() - t0) * 1000)
    print(json.dumps({"load_ms": loads, "df_ms": dfs, "pandas_import_ms": pandas_ms,
                      "rss_added_mb": (rss1 - rss0) / 2**20}))


def run(server, mode: Mode) -> list[Row]:
    reps = mode.reps(11, 3)
    with tempfile.TemporaryDirectory(prefix="wisgate-b6-") as tmp:
        folder = write_history(Path(tmp))
        size_mb = (folder / "history.jsonl").stat().st_size / 2**20
        code = f"from benchmarks.b6_history import child; child({str(folder)!r}, {reps})"
        out = subprocess.run([sys.executable, "-c", code], check=False, cwd=REPO, env=child_env(), capture_output=True,
                             text=True, timeout=300)
        if out.returncode:
            raise RuntimeError(out.stderr.strip().splitlines()[-1] if out.stderr.strip() else "child failed")
        data = json.loads(out.stdout.strip().splitlines()[-1])
    df, load = stats(data["df_ms"]), stats(data["load_ms"])
    rss = data["rss_added_mb"]
    common = {"records": RECORDS, "images": 2 * RECORDS, "history_jsonl_mb": round(size_mb, 2),
              "pandas_import_ms": data["pandas_import_ms"]}
    return [
        Row("B6", f"History.df of {RECORDS:,} records × 2 images (median of {reps}; first call "
            f"{data['df_ms'][0]:.0f} ms)", df["median"], "ms", target="≤ 150 ms", met=df["median"] <= 150,
            extra={**common, "df_ms": data["df_ms"]},
            note=f"pandas import alone: {data['pandas_import_ms']:.0f} ms (once per kernel, not counted)"),
        Row("B6", f"History.load of the same ({size_mb:.1f} MB history.jsonl, median of {reps})", load["median"],
            "ms", target="≤ 300 ms", met=load["median"] <= 300, extra={**common, "load_ms": data["load_ms"]}),
        Row("B6", "resident memory added by the loaded history + its DataFrame", rss, "MB", target="≤ 50 MB",
            met=rss <= 50, extra=common),
    ]
