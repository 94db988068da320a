"""binder/: "launch on Binder" gives an environment where the package is installed, widgets work and
demo mode is on when no key is set.

There is no docker engine here, so this does with binder/ what repo2docker's Python buildpack does
(repo2docker/buildpacks/python/__init__.py and its "Configuration files" docs), in a fresh virtual
environment instead of an image:

1. copy the repository (repo2docker copies it into the image before installing local requirements);
2. from the repository root, `pip install -r binder/requirements.txt` (repo2docker adds
   --no-cache-dir; here pip's cache keeps the test fast);
3. `bash binder/postBuild`, if there is one;
4. add what repo2docker's base environment brings (the kernel), not binder/'s business;
5. run every notebook on that environment's kernel, in the environment `binder/start` makes.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
BINDER = REPO / "binder"
sys.path.insert(0, str(REPO / "tools"))
import refresh_notebooks as tutorials

pytestmark = pytest.mark.timeout(600)  # about a minute with a warm pip cache

# Root-level files repo2docker would read if binder/ did not exist; with binder/ they are ignored, so
# one here would only mislead (pyproject.toml is the package's own, and deliberately not among them).
IGNORED_AT_ROOT = ("requirements.txt", "environment.yml", "Pipfile", "setup.py", "postBuild", "start",
                   "runtime.txt", "apt.txt", "Dockerfile")


def run(command: list[str], cwd: Path, env: dict | None = None, timeout: float = 600) -> str:
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    assert result.returncode == 0, (f"{' '.join(map(str, command))} failed:\n"
                                    f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result.stdout


def repository_files() -> list[str]:
    """The files a clone of the repository has: tracked, plus new ones not ignored."""
    out = run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], REPO)
    return [name for name in out.split("\0") if name and (REPO / name).is_file()]


def clean_env(**extra: str) -> dict:
    """No WisGate settings, no active virtualenv or PYTHONPATH that could leak this checkout in."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("WISGATE_", "WISDOM_")) and k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env.update(extra)
    return env


def start_env(root: Path, venv_bin: Path, **extra: str) -> dict:
    """The environment a Binder session gets: `binder/start env`, parsed."""
    base = clean_env(PATH=f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}", **extra)
    out = run(["bash", "binder/start", "env", "-0"], root, env=base)
    return dict(item.split("=", 1) for item in out.split("\0") if "=" in item)


@pytest.fixture(scope="module")
def binder(tmp_path_factory):
    """(repository copy, venv python) built from binder/ the way repo2docker builds it."""
    base = tmp_path_factory.mktemp("binder")
    root = base / "repo"
    for name in repository_files():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, root / name)
    venv.EnvBuilder(with_pip=True, clear=True).create(base / "venv")
    python = base / "venv" / "bin" / "python"
    env = clean_env(PIP_DISABLE_PIP_VERSION_CHECK="1")
    run([str(python), "-m", "pip", "install", "-q", "-r", "binder/requirements.txt"], root, env=env)
    if (root / "binder" / "postBuild").exists():
        run(["bash", "binder/postBuild"], root, env=clean_env(PATH=f"{python.parent}{os.pathsep}{env['PATH']}"))
    run([str(python), "-m", "pip", "install", "-q", "ipykernel"], root, env=env)
    return root, python


def test_binder_files_follow_repo2dockers_rules():
    runtime = (BINDER / "runtime.txt").read_text().strip()
    assert re.fullmatch(r"python-3\.\d+", runtime), runtime  # "python-x.y"
    requirements = (BINDER / "requirements.txt").read_text().splitlines()
    # A local reference makes repo2docker install the requirements after copying the repository.
    assert any(line.split("#", 1)[0].split() in (["-e", "."], ["."]) for line in requirements)
    start = (BINDER / "start").read_text().strip().splitlines()
    assert start[0] == "#!/bin/bash" and start[-1] == 'exec "$@"'  # the docs' two rules for `start`
    assert os.access(BINDER / "start", os.X_OK)
    assert not [name for name in IGNORED_AT_ROOT if (REPO / name).exists()]


def test_requirements_install_the_repository_itself_with_widgets(binder):
    root, python = binder
    code = "import wisgate_nb, ipywidgets, jupyterlab_widgets; print(wisgate_nb.__file__, ipywidgets.__version__)"
    where = run([str(python), "-c", code], root, env=clean_env())
    module, widgets_version = where.split()
    assert Path(module).resolve().is_relative_to(root.resolve())  # the repository copy, not this checkout
    assert int(widgets_version.split(".")[0]) >= 8
    prefix = python.parent.parent
    assert (prefix / "share/jupyter/labextensions/@jupyter-widgets/jupyterlab-manager/package.json").exists()
    assert run([str(prefix / "bin" / "wisgate-nb"), "--help"], root, env=clean_env())


def test_start_turns_demo_mode_on_only_without_a_key(binder):
    root, python = binder
    assert start_env(root, python.parent)["WISGATE_DEMO"] == "1"
    with_key = start_env(root, python.parent, WISGATE_API_KEY="sk-binder-test-key-000000")
    assert with_key.get("WISGATE_DEMO") in (None, "", "0")
    assert start_env(root, python.parent, WISGATE_DEMO="0")["WISGATE_DEMO"] == "0"


@pytest.mark.parametrize("name", sorted(p.name for p in tutorials.NOTEBOOKS.glob("*.ipynb")))
def test_notebooks_run_on_binder(binder, name):
    root, python = binder
    env = start_env(root, python.parent)
    _, problems = tutorials.run_copy(name, python=python, env=env, source=root / "notebooks")
    assert problems == []
