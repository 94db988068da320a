"""The option registry is the one list of image options: every front door takes each of them and says so.

For every option of ``options.FRONT_DOOR`` — today that includes background, moderation,
output_compression and input_fidelity, which reached the magic, the CLI and the panel by their registry
entry alone — the Python API, ``%%wisgate_image``, ``wisgate-nb`` and the panel each accept a valid value
(the dry run / the request carries it, normalised) and name it in their help. A new registry entry is
covered here without a new line of test.
"""

from __future__ import annotations

import inspect
import json

import pytest
from IPython.utils.capture import capture_output
from reliability_helpers import write_image

import wisgate_nb
from wisgate_nb import cli
from wisgate_nb.core.plans import DryRun
from wisgate_nb.options import FRONT_DOOR, OPTIONS, Option, argparse_spec
from wisgate_nb.widgets import Panel

_ENDPOINT = {o.name: ("edits" if o.endpoints == ("edits",) else "generations") for o in FRONT_DOOR}


def sample(option: Option):
    """A valid value of an option, as a user would type it, derived from its declaration."""
    return {"choice": lambda: option.choices[0], "int": lambda: option.high, "size": lambda: "512x512",
            "text": lambda: "gpt-image-1", "stream": lambda: 1}[option.kind]()


def expected(option: Option) -> dict:
    """What the request body says for ``sample(option)``."""
    if option.kind == "stream":
        return {"stream": True, "partial_images": 1}
    return {option.name: option.check(sample(option))}


def body_has(body: dict, option: Option) -> None:
    for key, value in expected(option).items():
        assert body.get(key) == value, (option.name, body)


@pytest.fixture
def image(tmp_path):
    return write_image(tmp_path / "photo.png", (96, 96))


OPTION_IDS = [o.name for o in FRONT_DOOR]


def test_the_registry_declares_each_option_once():
    names = [o.name for o in OPTIONS]
    assert len(names) == len(set(names))
    flags = [f for o in FRONT_DOOR for f in o.cli_flags]
    assert len(flags) == len(set(flags))
    assert {"background", "moderation", "output_compression", "input_fidelity"} <= set(OPTION_IDS)


@pytest.mark.parametrize("option", FRONT_DOOR, ids=OPTION_IDS)
def test_the_python_api_takes_it(option, session, image):
    value = sample(option)
    if _ENDPOINT[option.name] == "edits":
        dry = wisgate_nb.edit(image, "add a hat", dry_run=True, **{option.name: value})
    else:
        dry = wisgate_nb.generate("a red fox", dry_run=True, **{option.name: value})
    body_has(dry.body, option)
    doc = inspect.getdoc(wisgate_nb.edit if _ENDPOINT[option.name] == "edits" else wisgate_nb.generate)
    assert f"{option.name}: {option.help}" in doc


@pytest.mark.parametrize(("stream", "partials", "sent"), [(True, None, 2), (1, None, 1), (True, 3, 3), (1, 3, 3)])
def test_stream_implies_partial_images_unless_they_are_given(session, stream, partials, sent):
    dry = wisgate_nb.generate("a red fox", dry_run=True, stream=stream, partial_images=partials)
    assert dry.body["stream"] is True and dry.body["partial_images"] == sent


@pytest.mark.parametrize("option", FRONT_DOOR, ids=OPTION_IDS)
def test_the_magic_takes_it(option, shell, image):
    flag = option.cli_flags[-1]
    edit = f" --edit {image}" if _ENDPOINT[option.name] == "edits" else ""
    with capture_output() as captured:
        shell.run(f"%%wisgate_image --dry-run{edit} {flag} {sample(option)}\na red fox")
    (dry,) = [o for o in captured.outputs if "dry run" in o.data.get("text/plain", "")]
    body = json.loads(dry.data["text/plain"].split("\n", 4)[4].split("\nfile:")[0])
    body_has(body, option)
    help_text = shell.ip.find_cell_magic("wisgate_image").__doc__
    assert flag in help_text and option.help.split(" (")[0] in " ".join(help_text.split())


@pytest.mark.parametrize("option", FRONT_DOOR, ids=OPTION_IDS)
def test_the_cli_takes_it(option, session, image, capsys):
    endpoint = _ENDPOINT[option.name]
    command = ["edit", str(image), "add a hat"] if endpoint == "edits" else ["generate", "a red fox"]
    flags, _ = argparse_spec(option)
    assert cli.main([*command, flags[-1], str(sample(option)), "--dry-run"]) == 0
    out = capsys.readouterr().out
    body = json.loads(out.split("\n", 4)[4].split("\nfile:")[0])
    body_has(body, option)
    with pytest.raises(SystemExit):
        cli.main([command[0], "--help"])
    assert flags[-1] in " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize("option", FRONT_DOOR, ids=OPTION_IDS)
def test_the_panel_takes_it(option, session, image):
    panel = Panel(session)
    try:
        control = panel._form[option.name]
        assert control.tooltip == option.help  # the panel's help for the control
        panel._prompt.value = "a red fox"
        panel._form.set(option.name, sample(option))
        if _ENDPOINT[option.name] == "edits":
            assert option.name not in panel._form.values("generations")
            body = panel._form.values("edits")
        else:
            body = DryRun.of(panel._request()).body
            body_has(body, option)
            return
        request = wisgate_nb.edit(image, "add a hat", dry_run=True, **body)
        body_has(request.body, option)
    finally:
        panel.close()
