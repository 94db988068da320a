"""What every benchmark shares: timing, result rows, the table, machine facts."""

from __future__ import annotations

import importlib.metadata
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Mode:
    """How hard to try: the full run or the quick smoke run."""

    quick: bool

    def reps(self, full: int, quick: int = 1) -> int:
        return quick if self.quick else full

    def seconds(self, full: float, quick: float) -> float:
        return quick if self.quick else full


@dataclass
class Row:
    """One line of the table: our headline number, the baselines, and the target."""

    id: str
    what: str
    ours: float | None
    unit: str
    baselines: dict[str, float | None] = field(default_factory=dict)
    ratio: float | None = None  # ours / ratio_of (the baseline the target is about)
    ratio_of: str = ""
    target: str = ""
    met: bool | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # every other number measured for this row
    note: str = ""
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def stats(samples: Sequence[float]) -> dict[str, float]:
    """Median, min, max and count of samples (in the unit they come in)."""
    if not samples:
        return {"median": float("nan"), "min": float("nan"), "max": float("nan"), "n": 0}
    return {"median": statistics.median(samples), "min": min(samples), "max": max(samples), "n": len(samples)}


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """(seconds, result) of one call."""
    t0 = time.perf_counter()
    result = fn()
    return time.perf_counter() - t0, result


def ms(seconds: float) -> float:
    return seconds * 1000.0


def ratio(ours: float | None, base: float | None) -> float | None:
    if ours is None or base is None or base == 0:
        return None
    return ours / base


def rss_bytes() -> int:
    """This process's resident set size, from /proc (Linux); 0 elsewhere."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def child_env(*, drop: Sequence[str] = (), **extra: str) -> dict[str, str]:
    """The environment for child processes: this repository first on the path."""
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    env.update(extra)
    return env


_PACKAGES = ("wisgate-nb", "httpx", "openai", "pillow", "ipython", "ipykernel", "jupyter_client", "pandas",
             "numpy", "starlette", "uvicorn", "nbformat")


def machine() -> dict[str, Any]:
    """What the numbers ran on."""
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gb = round(int(line.split()[1]) / 2**20, 1)
                break
    except OSError:
        pass
    versions = {}
    for name in _PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "cpu": cpu or platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "memory_gb": mem_gb,
        "os": f"{platform.system()} {platform.release()}",
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "packages": versions,
    }


# -- the table -------------------------------------------------------------------------------------
def fmt(value: float | None, unit: str) -> str:
    if value is None or math.isnan(value):
        return "—"
    if unit == "ms":
        return f"{value:.0f} ms" if value >= 10 else f"{value:.1f} ms"
    if unit == "s":
        return f"{value:.2f} s"
    if unit in ("KB", "MB"):
        return f"{value:,.1f} {unit}" if value < 100 else f"{value:,.0f} {unit}"
    return f"{value:g} {unit}".strip()


def fmt_ratio(value: float | None) -> str:
    if value is None:
        return "—"
    if value < 0.1:
        return f"{value:.3f}× (1/{1 / value:.0f})"
    return f"{value:.2f}×"


def table(rows: Sequence[Row]) -> str:
    """The markdown table: id, what, ours, baseline(s), ratio, target, met?"""
    lines = ["| id | what | ours | baseline(s) | ratio | target | met? |",
             "|---|---|---|---|---|---|---|"]
    for row in rows:
        if row.error:
            lines.append(f"| {row.id} | {row.what} | error: {row.error[:80]} | | | {row.target} | — |")
            continue
        bases = "; ".join(f"{name} {fmt(v, row.unit)}" for name, v in row.baselines.items()) or "—"
        ratio_text = fmt_ratio(row.ratio) + (f" ({row.ratio_of})" if row.ratio is not None and row.ratio_of else "")
        met = {True: "yes", False: "**no**", None: "—"}[row.met]
        lines.append(f"| {row.id} | {row.what} | {fmt(row.ours, row.unit)} | {bases} | {ratio_text} | "
                     f"{row.target} | {met} |")
    return "\n".join(lines)
