"""Invalid input at every front door — the magic, the panel, the Python API and the CLI.

Each case must end with a clear message, and with nothing sent (the demo server records no request
at all) and nothing written (no history folder, no record).
"""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import TEST_KEY
from IPython.core.error import UsageError
from reliability_helpers import assert_readable, write_image

import wisgate_nb
from wisgate_nb import ConfigurationError

# ---- shared -------------------------------------------------------------------------------------


@pytest.fixture
def files(tmp_path) -> Path:
    """Input files: a good PNG, masks of the wrong size and type, and files that are not images."""
    folder = tmp_path / "inputs"
    folder.mkdir()
    write_image(folder / "photo.png", (128, 128))
    write_image(folder / "mask_small.png", (64, 64))
    write_image(folder / "mask.jpg", (128, 128), "JPEG")
    write_image(folder / "anim.gif", (128, 128), "GIF")
    (folder / "notes.txt").write_text("this is not an image\n")
    (folder / "fake.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"not really a png" * 8)
    (folder / "empty.png").write_bytes(b"")
    return folder


def assert_nothing_sent_or_written(server, session, tmp_path) -> None:
    assert server.emulator.requests == [], [(r.method, r.path) for r in server.emulator.requests]
    assert session.history.records == []
    assert not (tmp_path / "runs").exists(), list((tmp_path / "runs").rglob("*"))


# ---- the Python API ------------------------------------------------------------------------------

gen = wisgate_nb.generate


def edit(image, prompt="make it night", **params):
    return wisgate_nb.edit(image, prompt, **params)


API_CASES = [
    ("empty-prompt", lambda f: gen(""), "the prompt is empty"),
    ("blank-prompt", lambda f: gen("  \n\t "), "the prompt is empty"),
    ("prompt-too-long", lambda f: gen("x" * 32_001), r"32,001 characters; at most 32,000"),
    ("prompt-not-text", lambda f: gen(42), "the prompt must be text"),
    ("no-prompt", lambda f: gen(), "a prompt is needed"),
    ("size-without-x", lambda f: gen("a fox", size="1024"), r"size must be 'auto' or WIDTHxHEIGHT.*got '1024'"),
    ("size-too-small", lambda f: gen("a fox", size="32x32"), r"each side 64 to 4096 px.*got '32x32'"),
    ("size-too-large", lambda f: gen("a fox", size="8192x1024"), r"got '8192x1024'"),
    ("size-not-text", lambda f: gen("a fox", size=1024), r"got 1024"),
    ("n-zero", lambda f: gen("a fox", n=0), r"n must be a whole number from 1 to 10; got 0"),
    ("n-eleven", lambda f: gen("a fox", n=11), r"from 1 to 10; got 11"),
    ("n-bool", lambda f: gen("a fox", n=True), r"got True"),
    ("n-float", lambda f: gen("a fox", n=2.5), r"got 2\.5"),
    ("quality", lambda f: gen("a fox", quality=3), r"quality must be one of .*got 3"),
    ("lone-surrogate", lambda f: gen("a \ud800 fox"), r"the prompt holds a lone surrogate \('\\ud800' at character 2\)"),
    ("lone-surrogate-option", lambda f: gen("a fox", safety_identifier="u\udcff"), r"safety_identifier holds a lone"),
    ("output-format", lambda f: gen("a fox", output_format="gif"), r"output_format must be one of png, jpeg, webp"),
    ("background", lambda f: gen("a fox", background=["transparent"]), r"background must be one of transparent"),
    ("compression", lambda f: gen("a fox", output_compression=101), r"output_compression .* 0 to 100; got 101"),
    ("partial-images", lambda f: gen("a fox", partial_images=4), r"partial_images .* 0 to 3; got 4"),
    ("stream-partials", lambda f: gen("a fox", stream=9), r"partial_images .* 0 to 3; got 9"),
    ("model-blank", lambda f: gen("a fox", model="   "), r"model must be a non-empty model name"),
    ("user-not-text", lambda f: gen("a fox", user=7), r"user must be text; got 7"),
    ("unknown-option", lambda f: gen("a fox", colour="red"), r"unknown option\(s\) colour"),
    ("unknown-template", lambda f: gen(template="no-such-template"), r"unknown template 'no-such-template'"),
    ("edit-missing-file", lambda f: edit(f / "missing.png"), r"image file not found: .*missing\.png"),
    ("edit-text-file", lambda f: edit(f / "notes.txt"), r"notes\.txt cannot be decoded"),
    ("edit-fake-png", lambda f: edit(f / "fake.png"), r"fake\.png cannot be decoded"),
    ("edit-empty-file", lambda f: edit(f / "empty.png"), r"empty\.png cannot be decoded"),
    ("edit-gif", lambda f: edit(f / "anim.gif"), r"anim\.gif is GIF: send PNG, JPEG or WEBP"),
    ("edit-folder", lambda f: edit(f), r"cannot read image file"),
    ("edit-url", lambda f: edit("https://example.com/cat.png"), r"image URLs are not accepted"),
    ("edit-bytes-not-image", lambda f: edit(b"GIF89a-but-not-really"), r"cannot be decoded"),
    ("edit-wrong-type", lambda f: edit(3.14), r"an image must be a file path, bytes or a PIL image; got float"),
    ("edit-no-image", lambda f: edit([]), r"an edit needs at least one image"),
    ("edit-17-images", lambda f: edit([f / "photo.png"] * 17), r"at most 16 images"),
    ("edit-empty-prompt", lambda f: edit(f / "photo.png", ""), r"the prompt is empty"),
    ("edit-bad-size", lambda f: edit(f / "photo.png", size="big"), r"got 'big'"),
    ("edit-unknown-option", lambda f: edit(f / "photo.png", colour="red"), r"unknown option\(s\) for edit: colour"),
    ("mask-wrong-size", lambda f: edit(f / "photo.png", mask=f / "mask_small.png"),
     r"the mask is 64x64 but the image is 128x128"),
    ("mask-not-png", lambda f: edit(f / "photo.png", mask=f / "mask.jpg"), r"the mask must be a PNG"),
    ("mask-not-an-image", lambda f: edit(f / "photo.png", mask=f / "notes.txt"), r"notes\.txt cannot be decoded"),
    ("sweep-no-prompts", lambda f: wisgate_nb.sweep(prompts=[]), r"sweep needs prompts"),
    ("sweep-empty-values", lambda f: wisgate_nb.sweep(prompts=["a fox"], size=[]), r"size=\[\] has no values"),
    ("sweep-one-bad-value", lambda f: wisgate_nb.sweep(prompts=["a fox", "a cat"], size=["256x256", "bogus"]),
     r"got 'bogus'"),
    ("sweep-too-large", lambda f: wisgate_nb.sweep(prompts=["a fox"], n=[1] * 201), r"at most 200 requests"),
    ("configure-unknown-name", lambda f: wisgate_nb.configure(colour="red"), r"unknown setting\(s\) colour"),
    ("configure-bad-n", lambda f: wisgate_nb.configure(n=0), r"n must be between 1 and 10"),
    ("configure-wrong-type", lambda f: wisgate_nb.configure(timeout="fast"), r"bad setting: .*timeout"),
    ("configure-no-concurrency", lambda f: wisgate_nb.configure(max_concurrency=0), r"max_concurrency must be"),
    ("configure-bad-default-size", lambda f: (wisgate_nb.configure(size="huge"), gen("a fox")), r"got 'huge'"),
    ("configure-bad-default-quality", lambda f: (wisgate_nb.configure(quality="  "), gen("a fox")),
     r"quality must be one of"),
    ("no-key", lambda f: (wisgate_nb.configure(api_key=None), gen("a fox")), r"No API key is set"),
]


@pytest.mark.parametrize(("call", "message"), [pytest.param(c, m, id=i) for i, c, m in API_CASES])
def test_python_api_refuses_bad_input(call, message, session, server, files, tmp_path):
    with pytest.raises(ConfigurationError) as info:
        call(files)
    text = str(info.value)
    assert re.search(message, text), text
    assert_readable(text, limit=800)
    assert TEST_KEY not in text
    assert_nothing_sent_or_written(server, session, tmp_path)


# ---- the magic -----------------------------------------------------------------------------------

MAGIC_CASES = [
    ("size", "%%wisgate_image --size big\na fox", ConfigurationError, r"size must be 'auto' or WIDTHxHEIGHT"),
    ("n-zero", "%%wisgate_image -n 0\na fox", ConfigurationError, r"n must be a whole number from 1 to 10"),
    ("n-word", "%%wisgate_image -n eleven\na fox", ConfigurationError, r"n must be a whole number from 1 to 10; got 'eleven'"),
    ("n-float", "%%wisgate_image -n 2.5\na fox", ConfigurationError, r"n must be a whole number .* got '2\.5'"),
    ("lone-surrogate", "%%wisgate_image\na \ud800 fox", ConfigurationError, r"the prompt holds a lone surrogate"),
    ("format", "%%wisgate_image --format gif\na fox", ConfigurationError, r"output_format must be one of"),
    ("compression", "%%wisgate_image --output-compression 101\na fox", ConfigurationError, r"0 to 100; got 101"),
    ("stream-partials", "%%wisgate_image --stream 7\na fox", ConfigurationError, r"partial_images .* got 7"),
    ("unknown-option", "%%wisgate_image --colour red\na fox", UsageError, r"unrecognized arguments: --colour"),
    ("option-without-value", "%%wisgate_image --tag\na fox", UsageError, r"expected one argument"),
    ("every-problem-at-once", "%%wisgate_image -n 0 --size 1024\na fox", ConfigurationError,
     r"(?s)^2 problems, nothing was sent(?=.*n must be a whole number from 1 to 10)(?=.*size must be)"),
    ("unknown-option-near-miss", "%%wisgate_image --sizee 512x512\na fox", UsageError,
     r"unrecognized arguments: --sizee; did you mean --size\?"),
    ("out-not-a-name", "%%wisgate_image --out 1bad\na fox", ConfigurationError, r"--out '1bad': give a variable"),
    ("out-dotted", "%%wisgate_image --out a.b\na fox", ConfigurationError, r"--out 'a\.b'"),
    ("undefined-variable", "%%wisgate_image\na {undefined_subject} at dusk", ConfigurationError,
     r"no variable named 'undefined_subject'"),
    ("attribute-in-braces", "%%wisgate_image\na {subject.upper} at dusk", ConfigurationError,
     r"only plain variable names"),
    ("index-in-braces", "%%wisgate_image\na {items[0]} at dusk", ConfigurationError, r"only plain variable names"),
    ("positional-braces", "%%wisgate_image\na {} at dusk", ConfigurationError, r"only plain variable names"),
    ("unmatched-brace", "%%wisgate_image\na { fox", ConfigurationError, r"unmatched brace"),
    ("bad-format-spec", "%%wisgate_image\na {subject:%} fox", ConfigurationError, r"could not be filled in"),
    ("too-long-after-interpolation", "%%wisgate_image\n{long_text}", ConfigurationError, r"at most 32,000"),
    ("empty-cell", "%%wisgate_image\n   \n", ConfigurationError, r"the cell is empty"),
    ("only-separators", "%%wisgate_image\n---\n\n---\n", ConfigurationError, r"the cell is empty"),
    ("mask-without-edit", "%%wisgate_image --mask {d}/photo.png\na fox", ConfigurationError,
     r"--mask goes with --edit"),
    ("edit-missing-file", "%%wisgate_image --edit {d}/missing.png\nmake it night", ConfigurationError,
     r"image file not found"),
    ("edit-text-file", "%%wisgate_image --edit {d}/notes.txt\nmake it night", ConfigurationError,
     r"notes\.txt cannot be decoded"),
    ("edit-mask-wrong-size", "%%wisgate_image --edit {d}/photo.png --mask {d}/mask_small.png\nmake it night",
     ConfigurationError, r"the mask is 64x64 but the image is 128x128"),
    ("edit-no-last-result", "%%wisgate_image --edit _\nmake it night", ConfigurationError,
     r"no earlier result in this session"),
    ("edit-variable-not-image", "%%wisgate_image --edit number\nmake it night", ConfigurationError,
     r"an image must be a file path, bytes or a PIL image; got int"),
    ("edit-two-prompts", "%%wisgate_image --edit {d}/photo.png\nmake it night\n---\nmake it day",
     ConfigurationError, r"--edit takes exactly one prompt"),
    ("vary-without-values", "%%wisgate_image --vary size=\na fox", ConfigurationError, r"write --vary key=a,b"),
    ("vary-bad-value", "%%wisgate_image --vary size=1x1,64x64\na fox", ConfigurationError, r"got '1x1'"),
    ("field-without-template", "%%wisgate_image colour=red\na fox", ConfigurationError,
     r"name=value fields go with --template"),
    ("unknown-template", "%%wisgate_image --template no-such-template\nin a garden", ConfigurationError,
     r"unknown template 'no-such-template'"),
    ("unknown-profile", "%%wisgate_image --profile no-such-profile\na fox", ConfigurationError,
     r"unknown profile 'no-such-profile'"),
    ("dry-run-still-validates", "%%wisgate_image --dry-run --size x\na fox", ConfigurationError, r"got 'x'"),
    ("history-bad-action", "%wisgate_history frobnicate", UsageError, r"invalid choice: 'frobnicate'"),
    ("history-bad-last", "%wisgate_history compare --last many", UsageError, r"invalid int value: 'many'"),
    ("history-unknown-id", "%wisgate_history compare no-such-id", ConfigurationError,
     r"no record with id 'no-such-id'"),
    ("key-with-argument", "%wisgate_key sk-pasted-into-the-notebook", ConfigurationError,
     r"takes no argument: it asks for the key"),
]


@pytest.mark.parametrize(("cell", "error", "message"),
                         [pytest.param(c, e, m, id=i) for i, c, e, m in MAGIC_CASES])
def test_magic_refuses_bad_input(cell, error, message, shell, session, server, files, tmp_path, capsys):
    shell.ns.update(number=5, subject="fox", items=["fox"], long_text="x" * 40_000)
    with pytest.raises(error) as info:
        shell.run(cell.replace("{d}", str(files)))
    text = str(info.value)
    assert re.search(message, text), text
    assert_readable(text, limit=800)
    if isinstance(info.value, wisgate_nb.WisGateError):  # the cell shows one line, not a traceback
        (line,) = info.value._render_traceback_()
        assert type(info.value).__name__ in line
    assert "sk-pasted-into-the-notebook" not in capsys.readouterr().out
    assert session.config.api_key.get() == TEST_KEY
    assert_nothing_sent_or_written(server, session, tmp_path)


def test_option_problems_come_before_the_missing_key(server, tmp_path):
    """Without a key, bad options are reported (all of them) rather than the key: fix once, not twice."""
    from IPython.core.interactiveshell import InteractiveShell

    from wisgate_nb.config import WisGate
    from wisgate_nb.core.session import Session, set_current

    session = Session(WisGate(demo=False, api_key=None, history_dir=str(tmp_path / "runs")))
    previous = set_current(session)
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "wisgate_nb")
    try:
        result = ip.run_cell("%%wisgate_image --size 100x7 -n 99\na fox", store_history=False)
        text = str(result.error_in_exec)
        assert isinstance(result.error_in_exec, ConfigurationError), text
        assert text.startswith("2 problems") and "size" in text and "n must be" in text and "API key" not in text
        assert wisgate_nb.errors.ConfigurationError is ConfigurationError
        result = ip.run_cell("%%wisgate_image --size 512x512\na fox", store_history=False)
        assert "No API key is set" in str(result.error_in_exec)  # with the options fixed: the key
        assert_nothing_sent_or_written(server, session, tmp_path)
    finally:
        ip.run_line_magic("unload_ext", "wisgate_nb")
        set_current(previous)
        session.close()


# ---- the panel -----------------------------------------------------------------------------------


def _fill(panel, prompt="a fox", size=None, custom=None):
    panel._prompt.value = prompt
    if size is not None:
        panel._form["size"].value = size
    if custom is not None:
        panel._form.custom_size.value = custom
    panel._generate.click()


PANEL_CASES = [
    ("empty-prompt", lambda p: _fill(p, prompt=""), r"the prompt is empty"),
    ("blank-prompt", lambda p: _fill(p, prompt="  \n  "), r"the prompt is empty"),
    ("prompt-too-long", lambda p: _fill(p, prompt="x" * 32_001), r"32,001 characters"),
    ("custom-size-empty", lambda p: _fill(p, size="custom", custom=""), r"type a custom size as WIDTHxHEIGHT"),
    ("custom-size-garbage", lambda p: _fill(p, size="custom", custom="big"), r"size must be .* got 'big'"),
    ("custom-size-too-small", lambda p: _fill(p, size="custom", custom="10x10"), r"got '10x10'"),
    ("custom-size-too-large", lambda p: _fill(p, size="custom", custom="5000x5000"), r"got '5000x5000'"),
    ("edit-without-an-image", lambda p: p._edit_box._send_button.click(), r"choose an image to edit first"),
    ("compare-nothing-ticked", lambda p: p._history_tab._compare_button.click(), r"select two or more records"),
    ("rate-nothing-ticked", lambda p: p._history_tab._rate_button.click(), r"tick the box of at least one"),
    ("tag-without-text", lambda p: p._history_tab._tag_button.click(), r"type a tag first"),
]


@pytest.mark.parametrize(("action", "message"), [pytest.param(a, m, id=i) for i, a, m in PANEL_CASES])
def test_panel_refuses_bad_input_in_its_status(action, message, session, server, tmp_path):
    from wisgate_nb.widgets import Panel

    panel = Panel(session)
    try:
        action(panel)
        status = html.unescape(re.sub(r"<[^>]+>", " ", panel._status.value))
        assert "Not sent: please fix this first." in status, status
        assert re.search(message, status), status
        assert panel.slots == []
    finally:
        panel.close()
    assert_nothing_sent_or_written(server, session, tmp_path)


# ---- the CLI -------------------------------------------------------------------------------------

CLI_CASES = [
    ("size", ["generate", "a fox", "--size", "huge"], r"error: ConfigurationError: size must be"),
    ("n-zero", ["generate", "a fox", "-n", "0"], r"ConfigurationError: n must be a whole number from 1 to 10"),
    ("n-word", ["generate", "a fox", "-n", "two"], r"n must be a whole number from 1 to 10; got 'two'"),
    ("empty-prompt", ["generate", ""], r"ConfigurationError: the prompt is empty"),
    ("lone-surrogate", ["generate", "a \udcff fox"], r"the prompt holds a lone surrogate"),
    ("format", ["generate", "a fox", "--format", "gif"], r"output_format must be one of png, jpeg, webp"),
    ("unknown-option", ["generate", "a fox", "--colour", "red"], r"unrecognized arguments: --colour red"),
    ("missing-prompt", ["generate"], r"the following arguments are required: prompt"),
    ("unknown-command", ["paint", "a fox"], r"invalid choice: 'paint'"),
    ("unknown-profile", ["generate", "a fox", "--profile", "no-such-profile"], r"unknown profile 'no-such-profile'"),
    ("no-key", ["generate", "a fox"], r"No API key is set"),
]


@pytest.fixture(scope="module")
def cli_results(demo_server, tmp_path_factory):
    """Every CLI case at once (each is a process start), against the loopback demo server."""
    demo_server.emulator.reset()
    base = {k: v for k, v in os.environ.items()
            if not k.startswith("WISGATE_") and k != "WISDOM_GATE_KEY"}
    base.update(WISGATE_BASE_URL=demo_server.base_url)
    command = Path(sys.executable).with_name("wisgate-nb")
    prefix = [str(command)] if command.exists() else [sys.executable, "-m", "wisgate_nb.cli"]

    def run(case):
        name, argv, _ = case
        cwd = tmp_path_factory.mktemp(f"cli-{name}")
        env = dict(base) if name == "no-key" else {**base, "WISGATE_API_KEY": TEST_KEY}
        proc = subprocess.run([*prefix, *argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=60,
                              check=False)
        return name, (proc, cwd)

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = dict(pool.map(run, CLI_CASES))
    requests = list(demo_server.emulator.requests)
    demo_server.emulator.reset()
    return results, requests


@pytest.mark.parametrize(("name", "message"), [pytest.param(n, m, id=n) for n, _, m in CLI_CASES])
def test_cli_refuses_bad_input_with_exit_code_2(name, message, cli_results):
    results, requests = cli_results
    proc, cwd = results[name]
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert re.search(message, proc.stderr), proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""
    assert TEST_KEY not in proc.stderr
    assert requests == [], [(r.method, r.path) for r in requests]
    assert list(cwd.iterdir()) == []  # no wisgate_runs/, no image, nothing


# ---- bugs found: bad input that is not refused cleanly -------------------------------------------


@pytest.mark.parametrize("setting", [{"timeout": 0}, {"timeout": -5.0}, {"base_url": "ftp://example.com/v1"},
                                     {"api_key": "sk-pasted with a space-0123456789"}],
                         ids=["timeout-zero", "timeout-negative", "base-url-ftp", "key-with-space"])
def test_settings_only_the_client_checks_are_refused_before_anything_is_written(setting, session, server,
                                                                                 tmp_path):
    with pytest.raises(ConfigurationError) as info:
        wisgate_nb.configure(**setting)
        wisgate_nb.generate("a fox", size="64x64")
    assert "with a space" not in str(info.value)
    assert_nothing_sent_or_written(server, session, tmp_path)


def test_thumbnail_size_zero_is_refused_before_sending(session, server, tmp_path):
    with pytest.raises(ConfigurationError):
        wisgate_nb.configure(thumbnail_px=0)
        wisgate_nb.generate("a fox", size="64x64")
    assert_nothing_sent_or_written(server, session, tmp_path)


def test_stream_that_is_neither_bool_nor_number_is_a_configuration_error(session, server, tmp_path):
    with pytest.raises(ConfigurationError, match="stream"):
        wisgate_nb.generate("a fox", stream="yes")
    assert_nothing_sent_or_written(server, session, tmp_path)


def test_tags_that_are_not_text_are_a_configuration_error(session, server, tmp_path):
    with pytest.raises(ConfigurationError, match="tag"):
        wisgate_nb.generate("a fox", tags=5)
    assert_nothing_sent_or_written(server, session, tmp_path)


def test_one_tag_given_as_a_string_is_one_tag(session, server):
    generation = wisgate_nb.generate("a fox", size="64x64", tags="sunset")
    assert generation.record.tags == ("sunset",)
