"""B9 (reports): the teacher's reports over a term of 100,000 requests, against a plain SELECT of the same rows.

A SQLite database as the gateway makes it, filled with 100,000 request records (30 students, 70 days,
three assignments, prompts stored); then, a few times each, timed in this process:
- the baseline: ``SELECT * FROM gateway_requests`` fetched whole (what any report must at least read);
- the CSV export (``/admin/usage.csv`` over the whole range: read, format, every row written);
- the sums by student, by day and by assignment (``/admin/usage?by=``), one after another.
The goal: each report renders in under 2 s.
"""

from __future__ import annotations

import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import REPO, Mode, Row, ms, ratio, stats

RECORDS = 100_000
GOAL_S = 2.0


def _fill(engine, records: int) -> None:
    from wisgate_nb.gateway import db

    rng = random.Random(7)
    start = 1_790_000_000.0
    rows = []
    for i in range(records):
        t = start + i * (70 * 86400 / records)
        ok = rng.random() > 0.1
        rows.append({"id": f"gw_{i:024x}", "student": f"student{rng.randrange(30):02d}",
                     "day": time.strftime("%Y-%m-%d", time.gmtime(t)), "started_at": t, "route": "generations",
                     "model": "gpt-image-2", "size": "1024x1024", "n": 1, "stream": False,
                     "prompt": f"a lighthouse on a cliff at dusk, take {i}", "outcome": "ok" if ok else "refused",
                     "reserved": 0, "images": 1 if ok else 0, "total_tokens": 4200 if ok else None,
                     "status": 200 if ok else 429, "latency_ms": 812.5, "request_id": f"req_{i}",
                     "week": time.strftime("%G-W%V", time.gmtime(t)),
                     "assignment": f"lab{i % 3}" if i % 10 < 3 else None, "safety_id": "wgs-" + "0" * 32})
    with db.write(engine) as conn:
        conn.execute(db.requests.insert(), rows)


def _time(fn, reps: int) -> list[float]:
    out = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def run(server, mode: Mode) -> list[Row]:  # the demo server is not needed
    from sqlalchemy import text

    from wisgate_nb.gateway import db, reports

    reps = mode.reps(5, 1)
    with tempfile.TemporaryDirectory(prefix="wisgate-b9r-") as tmp:
        engine = db.connect(f"sqlite:///{Path(tmp) / 'gw.sqlite'}")
        try:
            _fill(engine, RECORDS)

            def plain():
                with engine.connect() as conn:
                    return conn.execute(text("SELECT * FROM gateway_requests")).all()

            def export():
                return sum(len(piece) for piece in reports.csv_text(engine, None, None))

            def sums():
                return [reports.sums(engine, None, None, by) for by in reports.BY]

            assert len(plain()) == RECORDS and len(sums()[0]) == 30
            times = {"plain SELECT": _time(plain, reps), "CSV": _time(export, reps), "sums": _time(sums, reps)}
            csv_bytes = export()
        finally:
            engine.dispose()
    med = {k: statistics.median(v) for k, v in times.items()}
    extra = {"samples_s": times, "stats_s": {k: stats(v) for k, v in times.items()}}
    return [
        Row("B9", f"report: CSV of {RECORDS:,} requests ({csv_bytes / 2**20:.1f} MB)", ms(med["CSV"]), "ms",
            baselines={"plain SELECT": ms(med["plain SELECT"])}, ratio=ratio(med["CSV"], med["plain SELECT"]),
            ratio_of="CSV / plain SELECT", target=f"< {GOAL_S:g} s", met=med["CSV"] < GOAL_S, extra=extra),
        Row("B9", f"report: sums by student, day and assignment over {RECORDS:,} requests", ms(med["sums"]), "ms",
            baselines={"plain SELECT": ms(med["plain SELECT"])}, ratio=ratio(med["sums"], med["plain SELECT"]),
            ratio_of="sums / plain SELECT", target=f"< {GOAL_S:g} s", met=med["sums"] < GOAL_S, extra=extra),
    ]


if __name__ == "__main__":  # python -m benchmarks.b9_reports [--quick]
    sys.path.insert(0, str(REPO))
    from benchmarks.common import table

    print(table(run(None, Mode(quick="--quick" in sys.argv))))
