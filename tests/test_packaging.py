"""Honest packaging (issue 29): extras that say what they are for and match what the code imports, a one-line
message naming the extra when one is missing, the README's commands the ones CI runs, a CLI quiet on a closed
pipe, and benchmark results kept out of the tracked tree unless asked for.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from wisgate_nb.extras import EXTRAS, hint, install_line, missing

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

REPO = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
README = (REPO / "README.md").read_text()


def _names(requirements: list[str]) -> set[str]:
    return {re.match(r"[A-Za-z0-9_.-]+", r).group(0).lower().replace("_", "-") for r in requirements}


def _extra_modules(extra: str) -> set[str]:
    """The distributions an extra brings, its own extras of wisgate-nb followed."""
    found = set()
    for requirement in PYPROJECT["project"]["optional-dependencies"][extra]:
        own = re.fullmatch(r"wisgate-nb\[([a-z,]+)\]", requirement)
        if own:
            for name in own.group(1).split(","):
                found |= _extra_modules(name)
        else:
            found |= _names([requirement])
    return found


# ---- the extras ------------------------------------------------------------------------------------------


def test_each_extra_brings_the_modules_the_code_expects_of_it():
    extras = PYPROJECT["project"]["optional-dependencies"]
    assert set(extras) == set(EXTRAS) | {"dev"}
    for extra, modules in EXTRAS.items():
        assert set(modules) <= _extra_modules(extra), extra
    assert _extra_modules("hub") >= {"jupyterhub", "sqlalchemy", "uvicorn"}
    assert "psycopg" not in _extra_modules("gateway")  # PostgreSQL only for who asks for it


def test_the_plain_install_holds_none_of_the_extras_and_dev_holds_them_all():
    plain = _names(PYPROJECT["project"]["dependencies"])
    everything = {m for modules in EXTRAS.values() for m in modules}
    assert plain & everything == set()
    assert everything | {"pytest", "mutmut", "playwright", "nbclient"} <= _extra_modules("dev")


def test_the_readme_names_each_extra():
    for extra in EXTRAS:
        assert f"`{install_line(extra)}`" in README, extra


def test_a_missing_module_of_an_extra_is_named_with_its_pip_line():
    assert missing("fast", "it") is None  # installed here
    assert hint(ModuleNotFoundError("no jupyterhub", name="jupyterhub.services.auth"), "the gateway") == (
        'the gateway needs jupyterhub, which is not installed: pip install "wisgate-nb[hub]"')
    assert hint(ModuleNotFoundError("no psycopg", name="psycopg"), "the gateway").endswith('"wisgate-nb[postgres]"')
    assert hint(ModuleNotFoundError("no yaml", name="yaml"), "the gateway") is None


def _cli_without(module: str, *argv: str, cwd: Path) -> subprocess.CompletedProcess:
    """``wisgate-nb ARGV`` in a Python where ``module`` cannot be imported (as if it were not installed)."""
    code = (f"import sys; sys.modules[{module!r}] = None\n"
            "from wisgate_nb.cli import main\n"
            f"sys.exit(main({list(argv)!r}))")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=cwd)


@pytest.mark.parametrize(("module", "argv", "extra"), [
    ("uvicorn", ["emulator", "--port", "0"], "emulator"),
    ("sqlalchemy", ["gateway", "usage"], "gateway"),
    ("uvicorn", ["gateway"], "gateway"),
    ("psycopg", ["gateway", "--db", "postgresql+psycopg://teacher@127.0.0.1:9/class", "usage"], "postgres"),
])
def test_a_command_whose_extra_is_missing_says_which_in_one_line(tmp_path, module, argv, extra):
    run = _cli_without(module, *argv, cwd=tmp_path)
    assert run.returncode == 2
    assert run.stderr == (f"error: wisgate-nb {argv[0]} needs {module}, which is not installed: "
                          f'pip install "wisgate-nb[{extra}]"\n')
    assert run.stdout == ""  # not the server's address first


def test_the_gateway_as_a_hub_service_without_jupyterhub_says_which_extra(tmp_path, monkeypatch):
    monkeypatch.setenv("JUPYTERHUB_SERVICE_NAME", "wisgate")
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "hub-token-for-the-test")
    run = _cli_without("jupyterhub", "gateway", cwd=tmp_path)
    assert (run.returncode, run.stdout) == (2, "")
    assert run.stderr == ("error: wisgate-nb gateway as a JupyterHub service needs jupyterhub, which is not installed: "
                          'pip install "wisgate-nb[hub]"\n')


# ---- the README's commands are CI's ----------------------------------------------------------------------


def _blocks(after: str) -> list[str]:
    """The lines of the first bash block after a line of the README."""
    text = README[README.index(after):]
    block = re.search(r"```bash\n(.*?)```", text, re.S).group(1)
    return [line.split("  #")[0].strip() for line in block.splitlines() if line.strip()]


def test_the_first_command_installs_the_package_without_the_test_tools():
    install = _blocks("## Quick start")[0]
    assert install.startswith("pip install -e . && ") and "[dev]" not in install


def test_ci_runs_the_readmes_test_command_exactly():
    (command,) = _blocks("Install what the tests need and run them")
    assert command == 'pip install -e ".[dev]" && pytest'
    ci = [line.strip() for line in (REPO / ".ci" / "run").read_text().splitlines()]
    assert command in ci
    assert [line for line in ci if re.match(r"(pip|pytest|python -m pytest)\b", line)] == [command]


# ---- a closed pipe ---------------------------------------------------------------------------------------


def test_info_piped_into_a_reader_that_stops_early_ends_quietly(tmp_path):
    made = subprocess.run([sys.executable, "-m", "wisgate_nb.cli", "generate", "a fox", "--demo", "--size", "64x64",
                           "--out", str(tmp_path)], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    image = made.stdout.split()[0]
    reader = subprocess.Popen([sys.executable, "-m", "wisgate_nb.cli", "info", *[image] * 3000],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path)
    assert reader.stdout.readline().decode().strip() == image  # `| head -1`: one line, then the pipe closes
    reader.stdout.close()
    _, err = reader.communicate(timeout=120)
    assert err.decode() == ""  # no BrokenPipeError traceback, no "Exception ignored"
    assert reader.returncode == 1


# ---- benchmark results outside the tracked tree ------------------------------------------------------------


def test_a_benchmark_run_writes_outside_the_tracked_tree_unless_published(monkeypatch):
    monkeypatch.syspath_prepend(str(REPO))  # benchmarks/ is not a package of the install
    from benchmarks.run import OUT, PUBLISHED, output_path, parse_args

    assert output_path(parse_args([])) == OUT == REPO / "benchmarks" / "out" / "results.json"
    assert output_path(parse_args(["--quick", "--only", "B1"])) == OUT
    assert output_path(parse_args(["--out", "/tmp/x.json"])) == Path("/tmp/x.json")
    assert output_path(parse_args(["--publish"])) == PUBLISHED == REPO / "benchmarks" / "results.json"
    ignored = subprocess.run(["git", "check-ignore", "-q", str(OUT)], cwd=REPO, timeout=30)
    tracked = subprocess.run(["git", "ls-files", "--error-unmatch", str(PUBLISHED)], cwd=REPO, capture_output=True,
                             timeout=30)
    assert (ignored.returncode, tracked.returncode) == (0, 0)


@pytest.mark.parametrize("argv", [["--publish", "--quick"], ["--publish", "--only", "B1"],
                                  ["--publish", "--out", "x.json"]])
def test_only_a_full_run_is_published(argv, capsys, monkeypatch):
    monkeypatch.syspath_prepend(str(REPO))
    from benchmarks.run import parse_args

    with pytest.raises(SystemExit):
        parse_args(argv)
    assert "--publish writes the README's numbers: a full run" in capsys.readouterr().err
