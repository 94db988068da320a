"""The tutorial notebooks: each runs top to bottom on a real kernel, in demo mode and with a key, and
shows its images; the committed copies carry small outputs and nothing of this machine.

The notebooks run in a temporary copy of notebooks/ (tools/refresh_notebooks.py, which also writes the
committed outputs), so nothing they write lands in the repository. A failing cell raises nbclient's
CellExecutionError with the cell and its traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tools"))
import refresh_notebooks as tutorials
from conftest import TEST_KEY

NOTEBOOKS = [
    "01_quickstart.ipynb",
    "02_panel.ipynb",
    "03_compare_prompts.ipynb",
    "04_edit_with_mask.ipynb",
    "05_streaming.ipynb",
    "06_teaching.ipynb",
    "07_prompt_experiments.ipynb",
]


def _files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def _tagged(nb) -> list:
    return [c for c in nb.cells if c.cell_type == "code" and tutorials.EXPECT_IMAGES in c.metadata.get("tags", [])]


def test_every_tutorial_is_there():
    assert sorted(p.name for p in tutorials.NOTEBOOKS.glob("*.ipynb")) == NOTEBOOKS


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_runs_in_demo_mode_and_shows_its_images(name):
    before = _files(tutorials.NOTEBOOKS)
    nb, problems = tutorials.run_copy(name)  # WISGATE_DEMO=1, no key, this interpreter's kernel

    assert problems == []
    tagged = _tagged(nb)
    assert tagged, f"{name}: no cell is tagged {tutorials.EXPECT_IMAGES}, so nothing checks its images"
    assert all(tutorials.image_outputs(c) for c in tagged)
    assert _files(tutorials.NOTEBOOKS) == before, "running a tutorial wrote into notebooks/"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_runs_with_a_key_against_a_real_server(name, server):
    """The same notebook, not in demo mode: a key and an OpenAI-compatible server over HTTP (the demo
    server on a loopback socket, which refuses any other key)."""
    env = tutorials.demo_env({"WISGATE_API_KEY": TEST_KEY, "WISGATE_BASE_URL": server.base_url})
    del env["WISGATE_DEMO"]

    nb, problems = tutorials.run_copy(name, env=env)

    assert problems == []  # includes: the key is nowhere in the outputs
    assert all(tutorials.image_outputs(c) for c in _tagged(nb))
    assert "demo mode" not in "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    assert server.emulator.image_requests, "nothing reached the server: the notebook ran in demo mode"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_committed_copy_has_small_outputs_and_nothing_of_this_machine(name):
    path = tutorials.NOTEBOOKS / name
    nb = nbformat.read(path, as_version=4)

    nbformat.validate(nb)
    assert path.stat().st_size < tutorials.MAX_BYTES
    assert tutorials.problems(nb, forbidden=tutorials.machine_paths()) == []
    assert all(tutorials.image_outputs(c) for c in _tagged(nb)), "refresh it: python tools/refresh_notebooks.py"
    assert nb.metadata.kernelspec.name == "python3"
    assert "widgets" not in nb.metadata  # widget state would double the panel's thumbnails


def test_problems_catches_a_missing_image_a_key_and_a_path():
    cell = nbformat.v4.new_code_cell("%%wisgate_image\na fox", metadata={"tags": [tutorials.EXPECT_IMAGES]})
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="see /tmp/x/wisgate_runs sk-abcdef0123456789")]
    nb = nbformat.v4.new_notebook(cells=[cell])

    found = "\n".join(tutorials.problems(nb, forbidden=("/tmp/x",)))

    assert "shows no image" in found and "API key" in found and "/tmp/x" in found
    cell.outputs = [nbformat.v4.new_output("display_data", data={"text/html": '<img src="data:image/jpeg;base64,AA"/>'})]
    assert tutorials.problems(nb) == []
    chance = "A" * 120 + "/tmp/" + "B" * 120  # an image's base64 may spell /tmp/ by chance: no path of this machine
    cell.outputs = [nbformat.v4.new_output("display_data", data={"text/html": f'<img src="data:image/jpeg;base64,{chance}"/>'})]
    assert tutorials.problems(nb, forbidden=("/tmp/",)) == []


def test_what_a_tutorial_writes_must_be_ignored_by_git():
    written = ["notebooks/contact_sheet.html", "notebooks/wisgate_runs/s/history.jsonl",
               "notebooks/prompt_comparison.csv", "notebooks/wisgate_templates.toml", "notebooks/a_new_export.csv"]
    assert tutorials.not_ignored(written) == ["notebooks/a_new_export.csv"]
