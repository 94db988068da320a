"""B12: a prompt experiment (3 prompts × n=4, every image graded by the judge) against the same sweep ungraded.

Both in demo mode (the in-process demo server draws the images and its judge grades them), each sample in a
fresh session and history folder, so nothing is reused from an earlier sample; the two alternate.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from benchmarks.common import Mode, Row, ratio, stats
from benchmarks.server import DemoServer

PROMPTS = ["a fox", "a red fox in the snow", "a red fox sitting in deep snow under a starry night sky"]
RUBRIC = "a red fox in the snow at night"
N = 4


def run(server: DemoServer, mode: Mode) -> list[Row]:
    from wisgate_nb.config import WisGate
    from wisgate_nb.core.plans import plan_sweep
    from wisgate_nb.core.session import Session
    from wisgate_nb.grading.experiment import run_experiment

    samples: dict[str, list[float]] = {"experiment": [], "sweep": []}
    with tempfile.TemporaryDirectory(prefix="wisgate-b10-") as tmp:
        def timed(kind: str, index: int) -> float:
            session = Session(WisGate(demo=True, api_key=None, history_dir=str(Path(tmp) / f"{kind}{index}"),
                                      size="1024x1024"))
            try:
                t0 = time.perf_counter()
                if kind == "sweep":
                    results = session.run_many(plan_sweep(session, PROMPTS, n=N))
                    failed = [r for r in results if isinstance(r, Exception)]
                    if failed:
                        raise failed[0]
                else:
                    graded = run_experiment(session, PROMPTS, rubric=RUBRIC, n=N, show_progress=False).grades
                    if graded.failures or len(graded) != len(PROMPTS) * N:
                        raise RuntimeError(f"the experiment graded {len(graded)} images, {len(graded.failures)} failed")
                return time.perf_counter() - t0
            finally:
                session.close()

        timed("sweep", -1)  # warm-up: imports, the demo server's drawing code
        timed("experiment", -1)
        for i in range(mode.reps(7, 1)):
            for kind in ("sweep", "experiment") if i % 2 == 0 else ("experiment", "sweep"):
                samples[kind].append(timed(kind, i))
    med = {kind: stats(s)["median"] for kind, s in samples.items()}
    grading = med["experiment"] - med["sweep"]
    return [Row(
        "B12", f"experiment: {len(PROMPTS)} prompts × n={N} (1024² demo pictures), every image graded, demo mode",
        med["experiment"], "s", baselines={"the same sweep, ungraded": med["sweep"]},
        ratio=ratio(med["experiment"], med["sweep"]), ratio_of="experiment / sweep",
        target="≤ 1.5× the sweep", met=med["experiment"] <= 1.5 * med["sweep"],
        extra={"samples_s": samples, "stats_s": {k: stats(v) for k, v in samples.items()}},
        note=f"grading {len(PROMPTS) * N} images added {grading * 1000:.0f} ms "
             f"({grading / (len(PROMPTS) * N) * 1000:.1f} ms an image, one judge request each)",
    )]
