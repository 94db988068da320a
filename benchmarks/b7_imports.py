"""B7: what ``import wisgate_nb`` and ``%load_ext wisgate_nb`` cost, and which heavy modules they pull.

Every sample is a fresh interpreter. In a kernel IPython is already imported, so ours is timed
after ``import IPython`` ("over it"); the baseline is ``import IPython`` itself. ``-X importtime``
attributes our cost to the modules that make it up.

Bytecode is cached (in a temporary ``PYTHONPYCACHEPREFIX``, never in the work tree) as it is for
an installed package, even where ``PYTHONDONTWRITEBYTECODE`` is set; the cost of compiling our
sources on every start (a source checkout with that variable set) is reported beside it.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile

from benchmarks.common import REPO, Mode, Row, child_env, ratio, stats

HEAVY = ("pandas", "numpy", "ipywidgets", "starlette", "PIL", "httpx", "httpx_sse", "anyio", "uvicorn", "openai")
FORBIDDEN = ("pandas", "ipywidgets", "starlette")

_PROBE = """
import json, sys, time
t0 = time.perf_counter()
import IPython
ipython_s = time.perf_counter() - t0
result = {"ipython_ms": ipython_s * 1000}
if MODE == "import":
    t0 = time.perf_counter()
    import wisgate_nb
    result["ours_ms"] = (time.perf_counter() - t0) * 1000
elif MODE == "load_ext":
    from traitlets.config import Config
    from IPython.core.interactiveshell import InteractiveShell
    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    ip = InteractiveShell.instance(config=config)
    t0 = time.perf_counter()
    ip.run_line_magic("load_ext", "wisgate_nb")
    result["ours_ms"] = (time.perf_counter() - t0) * 1000
    assert "wisgate_image" in ip.magics_manager.magics["cell"]
result["modules"] = [m for m in HEAVY if m in sys.modules]
print(json.dumps(result))
"""


def _env(pycache: str | None) -> dict[str, str]:
    if pycache is None:  # compile every time
        return child_env(PYTHONDONTWRITEBYTECODE="1")
    return child_env(drop=("PYTHONDONTWRITEBYTECODE",), PYTHONPYCACHEPREFIX=pycache)


def _probe(mode: str, pycache: str | None) -> dict:
    code = f"MODE = {mode!r}\nHEAVY = {HEAVY!r}\n" + _PROBE
    out = subprocess.run([sys.executable, "-c", code], check=False, cwd=REPO, env=_env(pycache),
                         capture_output=True, text=True, timeout=120)
    if out.returncode:
        raise RuntimeError(f"{mode} probe failed: {out.stderr.strip()[-300:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def importtime_breakdown(pycache: str | None, top: int = 8) -> dict:
    """-X importtime after IPython: wisgate_nb's cumulative ms and its costliest imports (self time)."""
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", "import IPython; import wisgate_nb"],
                         check=False, cwd=REPO, env=_env(pycache), capture_output=True, text=True, timeout=120)
    lines = re.findall(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", out.stderr)
    entries = [(int(cum), len(indent), name) for _self, cum, indent, name in lines]
    total = next((cum for cum, depth, name in entries if name == "wisgate_nb" and depth <= 1), None)
    # Everything imported under wisgate_nb: the lines before its own line, back to the previous top level.
    start = next(i for i, (_c, depth, name) in enumerate(entries) if name == "wisgate_nb" and depth <= 1)
    first = start
    while first > 0 and entries[first - 1][1] > 1:
        first -= 1
    selfs = {name: int(s) for s, _c, _i, name in lines}
    inside = sorted(((selfs[name], name) for _c, _d, name in entries[first:start + 1]), reverse=True)
    return {"wisgate_nb_cumulative_ms": total / 1000 if total else None,
            "costliest_self_ms": {name: us / 1000 for us, name in inside[:top]}}


def run(server, mode: Mode) -> list[Row]:
    reps = mode.reps(7, 1)
    with tempfile.TemporaryDirectory(prefix="wisgate-b7-pycache-") as pycache:
        _probe("load_ext", pycache)  # writes the bytecode cache
        baseline = [_probe("none", pycache) for _ in range(reps)]
        imports = [_probe("import", pycache) for _ in range(reps)]
        loads = [_probe("load_ext", pycache) for _ in range(reps)]
        breakdown = importtime_breakdown(pycache)
    uncached = [_probe("import", None)["ours_ms"] for _ in range(mode.reps(3, 1))]
    ipython_ms = stats([b["ipython_ms"] for b in baseline])["median"]
    import_ms = stats([s["ours_ms"] for s in imports])["median"]
    load_ms = stats([s["ours_ms"] for s in loads])["median"]
    after_import = imports[-1]["modules"]
    after_load = loads[-1]["modules"]
    rows = []
    for what, value, pulled in (("import wisgate_nb", import_ms, after_import),
                                ("%load_ext wisgate_nb", load_ms, after_load)):
        bad = [m for m in FORBIDDEN if m in pulled]
        rows.append(Row(
            "B7", f"{what} after IPython (fresh interpreter, median of {reps})", value, "ms",
            baselines={"import IPython": ipython_ms}, ratio=ratio(value, ipython_ms),
            ratio_of="ours / import IPython", target="≤ 150 ms over IPython; no pandas/ipywidgets/starlette",
            met=value <= 150 and not bad,
            extra={"heavy_modules_loaded": pulled, "forbidden_loaded": bad, "samples_ms": [
                s["ours_ms"] for s in (imports if what.startswith("import") else loads)],
                "ipython_samples_ms": [b["ipython_ms"] for b in baseline], "importtime": breakdown,
                "import_without_bytecode_cache_ms": stats(uncached)["median"]},
            note=f"{what} loads " + (", ".join(pulled) if pulled else "none of " + ", ".join(HEAVY)),
        ))
    return rows
