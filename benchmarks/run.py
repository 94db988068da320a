"""Run the benchmarks: ``python -m benchmarks [--quick] [--out FILE] [--only B1,B5] [--publish]``.

Starts the demo server on 127.0.0.1 (in its own process), runs B1..B12 against it and against the
baselines in the same run, prints a table of medians and ratios and writes the numbers as JSON to
``benchmarks/out/results.json`` (git-ignored), or ``--out FILE``; only ``--publish`` (a full run)
rewrites the tracked ``benchmarks/results.json`` that the README quotes. Exit status 1 if a benchmark
failed to run; a missed target is a finding, not a failure.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # python benchmarks/run.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import argparse
import json
import os
import time
import traceback
from datetime import datetime, timezone

from benchmarks.common import REPO, Mode, Row, machine, table

# (module, the ids it reports), in the order they run: the kernel and the subprocess ones last.
SUITE = (
    ("b1_latency", ("B1",)),
    ("b2_concurrency", ("B2",)),
    ("b3_streaming", ("B3",)),
    ("b4_notebook_size", ("B4",)),
    ("b6_history", ("B6",)),
    ("b7_imports", ("B7",)),
    ("b9_gateway", ("B9",)),
    ("b9_reports", ("B9",)),
    ("b10_rate_limits", ("B10",)),
    ("b11_demo_drawing", ("B11",)),
    ("b12_experiments", ("B12",)),
    ("b5_b8_kernel", ("B5", "B8")),
)
OUT = REPO / "benchmarks" / "out" / "results.json"  # git-ignored: any run's numbers
PUBLISHED = REPO / "benchmarks" / "results.json"  # tracked: the README's numbers, written only with --publish


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="one or two repetitions and shorter latencies: checks that everything runs "
                             "(the numbers are not the published ones)")
    parser.add_argument("--out", type=Path, default=None,
                        help=f"JSON file to write (default: {OUT.relative_to(REPO)}, which git ignores)")
    parser.add_argument("--only", default="", help="comma-separated ids to run, e.g. B1,B5 (default: all)")
    parser.add_argument("--publish", action="store_true",
                        help=f"write the tracked {PUBLISHED.relative_to(REPO)} (the README's numbers; a full run only)")
    args = parser.parse_args(argv)
    if args.publish and (args.quick or args.only or args.out is not None):
        parser.error("--publish writes the README's numbers: a full run, without --quick, --only or --out")
    return args


def output_path(args: argparse.Namespace) -> Path:
    """Where a run writes its JSON: never the tracked file unless asked to publish."""
    return PUBLISHED if args.publish else (args.out or OUT)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    mode = Mode(quick=args.quick)
    only = {x.strip().upper() for x in args.only.split(",") if x.strip()}
    out = output_path(args)
    from benchmarks.server import DemoServer

    started, t_start = datetime.now(timezone.utc), time.perf_counter()
    info = machine()
    info["load_average_before"] = _load()
    rows: list[Row] = []
    failed = False
    print(f"wisgate_nb benchmarks ({'quick' if mode.quick else 'full'} run) on {info['cpu']}, "
          f"{info['cores']} cores, Python {info['python']}", flush=True)
    with DemoServer() as server:
        print(f"demo server: {server.base_url} (its own process)\n", flush=True)
        for name, ids in SUITE:
            if only and not only.intersection(ids):
                continue
            t0 = time.perf_counter()
            print(f"-- {'/'.join(ids)} ({name}) ...", flush=True)
            try:
                module = __import__(f"benchmarks.{name}", fromlist=["run"])
                new = module.run(server, mode)
            except Exception as exc:
                failed = True
                traceback.print_exc()
                new = [Row(i, "(failed to run)", None, "", error=f"{type(exc).__name__}: {exc}") for i in ids]
            rows.extend(new)
            print(table(new))
            for row in new:
                if row.note:
                    print(f"   {row.id}: {row.note}")
            print(f"   ({time.perf_counter() - t0:.0f} s)\n", flush=True)
    rows.sort(key=lambda r: (len(r.id), r.id))  # B2 before B11; stable: a benchmark's rows keep their order
    info["load_average_after"] = _load()
    duration = time.perf_counter() - t_start
    text = table(rows)
    print(f"## wisgate_nb benchmarks — {started:%Y-%m-%d}, {info['cpu']}, {info['cores']} cores, "
          f"Python {info['python']}{' (quick run)' if mode.quick else ''}\n")
    print(text)
    notes = [f"{r.id}: {r.note}" for r in rows if r.note]
    if notes:
        print("\n" + "\n".join(f"- {n}" for n in notes))
    print(f"\n{duration:.0f} s; load average before/after: {info['load_average_before']} / "
          f"{info['load_average_after']}")
    # every run keeps its numbers (outside the tracked tree unless --publish)
    result = {
        "command": "python -m benchmarks" + (" --quick" if mode.quick else ""),
        "mode": "quick" if mode.quick else "full",
        "started_at": started.isoformat(timespec="seconds"),
        "duration_s": round(duration, 1),
        "machine": info,
        "rows": [r.to_json() for r in rows],
        "table": text,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1, ensure_ascii=False, default=_json_default) + "\n",
                   encoding="utf-8")
    print(f"written: {out}")
    return 1 if failed else 0


def _load() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def _json_default(value):
    return str(value)


if __name__ == "__main__":
    raise SystemExit(main())
