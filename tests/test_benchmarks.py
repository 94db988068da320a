"""Smoke test of the benchmark command: it runs, prints the table and writes every id. No timings asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
IDS = sorted(f"B{i}" for i in range(1, 13))


@pytest.mark.timeout(900)
def test_quick_run_prints_the_table_and_writes_every_benchmark(tmp_path):
    out = tmp_path / "results.json"
    done = subprocess.run([sys.executable, "-m", "benchmarks", "--quick", "--out", str(out)], check=False,
                          cwd=REPO, capture_output=True, text=True, timeout=880)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "| id | what | ours | baseline(s) | ratio | target | met? |" in done.stdout
    result = json.loads(out.read_text(encoding="utf-8"))
    assert result["mode"] == "quick"
    assert {"cpu", "cores", "python", "packages"} <= set(result["machine"])
    rows = result["rows"]
    assert {row["id"] for row in rows} == set(IDS)
    for row in rows:
        assert row["error"] is None, row
        assert isinstance(row["ours"], (int, float)), row
        assert row["target"] and isinstance(row["met"], bool), row
    for benchmark_id in IDS:
        assert f"| {benchmark_id} |" in done.stdout


def test_the_script_form_shows_its_help():
    done = subprocess.run([sys.executable, "benchmarks/run.py", "--help"], check=False, cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "--quick" in done.stdout and "--out" in done.stdout
