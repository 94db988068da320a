"""The code passes the project's lint rules (pyproject.toml [tool.ruff])."""

import subprocess
import sys
from pathlib import Path


def test_ruff_finds_nothing():
    repo = Path(__file__).resolve().parent.parent
    out = subprocess.run([sys.executable, "-m", "ruff", "check", "."], cwd=repo, capture_output=True, text=True,
                         check=False)
    assert out.returncode == 0, out.stdout + out.stderr
