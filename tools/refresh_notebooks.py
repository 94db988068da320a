"""Run the tutorial notebooks in demo mode and save them with their small outputs.

    python tools/refresh_notebooks.py                  # every notebooks/*.ipynb
    python tools/refresh_notebooks.py 01_quickstart    # only the ones whose name starts so
    python tools/refresh_notebooks.py --check          # run them, change nothing, report problems

Each notebook runs in a throwaway copy of notebooks/ (the history folder, masks and contact sheets it
writes stay out of the repository), with WISGATE_DEMO=1 and no API key, on a kernel of this Python.
A notebook is only written back when it passes `problems()`: every cell tagged `expect-images` shows an
image, the file stays under MAX_BYTES, and no key or absolute path of this machine is in it. Every
file it writes must be one git ignores (notebooks/.gitignore), so that running a tutorial in place
leaves `git status` clean.
tests/test_notebooks.py runs the same functions, so what CI checks is what gets committed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = REPO / "notebooks"
MAX_BYTES = 400_000
CELL_TIMEOUT = 120
EXPECT_IMAGES = "expect-images"

# Anything that looks like an API key; the demo never has one, a leak would look like this.
_KEY_PATTERN = re.compile(r"\bsk-[A-Za-z0-9_-]{12,}")
# Settings that would make a run depend on the machine it runs on.
_CLEARED_ENV = ("WISGATE_API_KEY", "WISDOM_GATE_KEY", "WISGATE_BASE_URL", "WISGATE_MODEL", "WISGATE_HISTORY_DIR",
                "WISGATE_DEMO")


def demo_env(extra: dict | None = None) -> dict:
    """This process's environment without any WisGate key or setting, in demo mode."""
    env = {k: v for k, v in os.environ.items() if k not in _CLEARED_ENV}
    env["WISGATE_DEMO"] = "1"
    env.update(extra or {})
    return env


def write_kernelspec(python: str | os.PathLike, where: Path) -> Path:
    """A `python3` kernelspec for this interpreter (or another one, e.g. a venv's) under where/."""
    spec = where / "python3"
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (ipykernel)", "language": "python",
    }))
    return where


def execute(nb: nbformat.NotebookNode, workdir: Path, *, python: str | os.PathLike = sys.executable,
            env: dict | None = None, timeout: int = CELL_TIMEOUT) -> nbformat.NotebookNode:
    """Run every cell on a fresh kernel of `python` with `workdir` as its working directory.

    Raises nbclient's CellExecutionError on the first failing cell, CellTimeoutError on a slow one.
    """
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager
    from nbclient import NotebookClient

    nb.metadata.pop("widgets", None)  # left from an earlier run
    with tempfile.TemporaryDirectory(prefix="wisgate-kernels-") as kernels:
        specs = KernelSpecManager(kernel_dirs=[str(write_kernelspec(python, Path(kernels)))],
                                  ensure_native_kernel=False)
        km = AsyncKernelManager(kernel_name="python3", kernel_spec_manager=specs)
        # No widget state in the file: it would add the panel's thumbnails a second time, and JupyterLab
        # does not restore widgets from it anyway; panel.snapshot() is the static copy that stays.
        client = NotebookClient(nb, km=km, kernel_name="python3", timeout=timeout, record_timing=False,
                                store_widget_state=False, resources={"metadata": {"path": str(workdir)}})
        client.execute(env=demo_env() if env is None else env)
    return nb


def image_outputs(cell) -> int:
    """How many outputs of a code cell show an image (an embedded <img> in HTML, or an image/* output)."""
    count = 0
    for output in cell.get("outputs", []):
        data = output.get("data", {})
        html = data.get("text/html", "")
        html = "".join(html) if isinstance(html, list) else html
        if re.search(r"<img\b[^>]*\bsrc=\"data:image/", html) or any(k.startswith("image/") for k in data):
            count += 1
    return count


_BASE64_RUN = re.compile(r"[A-Za-z0-9+/]{100,}={0,2}")


def problems(nb: nbformat.NotebookNode, *, forbidden: tuple[str, ...] = (), secrets: tuple[str, ...] = ()
             ) -> list[str]:
    """What is wrong with an executed notebook before it may be committed (empty list: nothing).

    `forbidden`: absolute paths that must not appear; `secrets`: keys that must not appear (the
    environment's WISGATE_API_KEY / WISDOM_GATE_KEY are always checked).
    """
    found = []
    text = nbformat.writes(nb)
    size = len(text.encode("utf-8"))
    if size > MAX_BYTES:
        found.append(f"{size} bytes, more than {MAX_BYTES}")
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        if errors:
            found.append(f"cell {index} has an error output: {errors[0].get('ename')}")
        if EXPECT_IMAGES in cell.metadata.get("tags", []) and not image_outputs(cell):
            found.append(f"cell {index} is tagged {EXPECT_IMAGES} but shows no image:\n{cell.source[:200]}")
    match = _KEY_PATTERN.search(text)
    if match:
        found.append(f"something that looks like an API key: {match.group()[:8]}…")
    for secret in (*secrets, os.environ.get("WISGATE_API_KEY"), os.environ.get("WISDOM_GATE_KEY")):
        if secret and secret.strip() and secret.strip() in text:
            found.append("an API key itself")
    readable = _BASE64_RUN.sub("", text)  # a path's words, not a chance run of characters in an image's data
    for path in forbidden:
        if path and path in readable:
            found.append(f"an absolute path of this machine: {path}")
    return found


def machine_paths(*extra: str | os.PathLike) -> tuple[str, ...]:
    """Absolute paths that must never be in a committed notebook: temp dirs, home, the checkout."""
    paths = {str(Path(p)) for p in extra}
    paths |= {tempfile.gettempdir() + os.sep, str(Path.home()) + os.sep, str(REPO) + os.sep}
    return tuple(sorted(p for p in paths if len(p) > 1))


def not_ignored(paths: list[str]) -> list[str]:
    """The repository paths (e.g. ``notebooks/sheet.html``) that git would show as new files."""
    if shutil.which("git") is None or not (REPO / ".git").exists():
        return []  # not a git checkout: nothing to keep clean
    done = subprocess.run(["git", "-C", str(REPO), "check-ignore", "--no-index", "--stdin"], input="\n".join(paths),
                          capture_output=True, text=True, check=False)
    ignored = set(done.stdout.split("\n"))
    return [p for p in paths if p not in ignored]


def _files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def run_copy(name: str, *, python: str | os.PathLike = sys.executable, env: dict | None = None,
             source: Path = NOTEBOOKS) -> tuple[nbformat.NotebookNode, list[str]]:
    """Execute notebooks/<name> in a temporary copy of the folder; return it and its problems."""
    with tempfile.TemporaryDirectory(prefix="wisgate-nb-") as tmp:
        workdir = Path(tmp) / "notebooks"
        shutil.copytree(source, workdir, ignore=shutil.ignore_patterns("wisgate_runs", ".ipynb_checkpoints"))
        before = _files(workdir)
        nb = nbformat.read(workdir / name, as_version=4)
        execute(nb, workdir, python=python, env=env)
        secrets = tuple(v for k, v in (env or {}).items() if k in ("WISGATE_API_KEY", "WISDOM_GATE_KEY"))
        found = problems(nb, forbidden=machine_paths(tmp, workdir.resolve()), secrets=secrets)
        written = sorted(f"notebooks/{f}" for f in _files(workdir) - before)
        found += [f"writes {p}, which git does not ignore (add it to notebooks/.gitignore)" for p in not_ignored(written)]
        return nb, found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="notebook name prefixes (default: all)")
    parser.add_argument("--check", action="store_true", help="run and report, write nothing")
    args = parser.parse_args(argv)
    paths = sorted(NOTEBOOKS.glob("*.ipynb"))
    if args.names:
        paths = [p for p in paths if any(p.name.startswith(n) for n in args.names)]
    failed = False
    for path in paths:
        nb, found = run_copy(path.name)
        size = len(nbformat.writes(nb).encode("utf-8"))
        if found:
            failed = True
            print(f"{path.name}: NOT written\n  " + "\n  ".join(found))
            continue
        if not args.check:
            nbformat.write(nb, path)
        print(f"{path.name}: ok, {size // 1000} KB{'' if args.check else ' (written)'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
