"""%%wisgate_image and the line magics, in a test InteractiveShell against the demo server on loopback."""

from __future__ import annotations

import io
import time

import pytest
from bounds import concurrent
from conftest import TEST_KEY
from PIL import Image
from reliability_helpers import captured_html

import wisgate_nb
from wisgate_nb.emulator import Fault
from wisgate_nb.errors import AuthenticationError, ConfigurationError, ContentPolicyError


def test_magic_generates_displays_and_records(shell, session, server):
    html = captured_html(shell, "%%wisgate_image --size 256x256 -n 2 --quality low --tag first\na lighthouse at dusk")
    assert any("<img" in h and "data:image/jpeg;base64," in h for h in html)
    assert any("a lighthouse at dusk" in h for h in html)
    (request,) = server.emulator.image_requests
    assert request.body["size"] == "256x256" and request.body["n"] == 2 and request.body["quality"] == "low"
    (record,) = session.history.records
    assert record.status == "ok" and record.source == "magic" and record.images == 2 and record.tags == ("first",)
    assert all(p.exists() for p in session.history.full_paths(record))


def test_out_binds_the_result_and_nothing_else_is_written(shell):
    before = set(shell.ns)
    shell.run("%%wisgate_image --size 128x128 --out city --no-display\na city")
    added = set(shell.ns) - before
    assert added == {"city"}
    assert isinstance(shell.ns["city"], wisgate_nb.Generation)
    assert shell.ns["city"].images[0].size == (128, 128)


def test_prompt_interpolation_and_literal_braces(shell, server):
    shell.ns["subject"] = "red sneaker"
    shell.run("%%wisgate_image --size 128x128 --no-display\na {subject} in {{curly}} braces")
    assert server.emulator.image_requests[0].body["prompt"] == "a red sneaker in {curly} braces"


def test_unknown_name_is_an_error_that_names_it_and_nothing_is_sent(shell, session, server):
    with pytest.raises(ConfigurationError, match="no variable named 'nowhere'"):
        shell.run("%%wisgate_image --size 128x128\na {nowhere} place")
    assert server.emulator.image_requests == []
    assert len(session.history) == 0


def test_magic_line_is_not_expanded_by_ipython(shell, session):
    shell.ns["x"] = "EXPANDED"
    shell.run("%%wisgate_image --size 128x128 --no-display --tag $x --tag {x}\na cat")
    assert session.history.records[-1].tags == ("$x", "{x}")


@pytest.mark.parametrize("line, message", [
    ("--size 12x12", "64 to 4096"),
    ("-n 11", "1 to 10"),
    ("--format bmp", "png"),
    ("--output-compression 101", "output_compression"),
    ("--stream 7", "partial"),
    ("--out 1abc", "variable name"),
    ("--mask m.png", "--edit"),
    ("--edit does_not_exist.png", "does_not_exist.png"),
    ("stray=field", "--template"),
])
def test_invalid_options_are_refused_before_sending(shell, session, server, line, message):
    with pytest.raises(ConfigurationError, match=message):
        shell.run(f"%%wisgate_image {line}\na cat")
    assert server.emulator.image_requests == []
    assert len(session.history) == 0


def test_unknown_option_is_a_usage_error(shell, server):
    from IPython.core.error import UsageError

    with pytest.raises(UsageError):
        shell.run("%%wisgate_image --sise 1024x1024\na cat")
    assert server.emulator.image_requests == []


def test_empty_cell_is_refused(shell, server):
    with pytest.raises(ConfigurationError, match="empty"):
        shell.run("%%wisgate_image\n   \n")
    assert server.emulator.image_requests == []


def test_several_prompts_run_concurrently_and_one_failure_does_not_cancel_others(shell, session, server):
    server.emulator.config.latency = 1.0
    start = time.perf_counter()
    with pytest.raises(ContentPolicyError):
        captured_html(shell, "%%wisgate_image --size 128x128\na fox\n---\na forbidden thing\n---\na cat")
    wall = time.perf_counter() - start
    statuses = sorted(r.status for r in session.history.records)
    assert statuses == ["error", "ok", "ok"]
    # concurrently: three requests of 1 s each take far less than the 3 s they would in a row
    assert wall < concurrent(3, server.emulator.config.latency)


def test_several_prompts_show_side_by_side_in_the_order_typed(shell, session, server):
    from wisgate_nb.emulator import Fault

    # the first two requests to arrive answer last: the results finish in another order than typed
    server.emulator.schedule(Fault("slow", delay=0.8))
    server.emulator.schedule(Fault("slow", delay=0.4))
    html = captured_html(shell, "%%wisgate_image --size 128x128\nzebra\n---\napple\n---\nmango")
    shown = [h for h in html if "wisgate-columns" in h][-1]
    assert "<table" not in shown  # one column per prompt, side by side, not a table of rows
    assert shown.index("zebra") < shown.index("apple") < shown.index("mango")
    assert shown.count("<figure") == 3 and shown.count("<img") == 3
    records = session.history.records
    assert len({r.group for r in records}) == 1
    assert [r.prompt for r in records] != ["zebra", "apple", "mango"], "the test needs another finishing order"


def test_vary_runs_one_request_per_value(shell, session, server):
    shell.run("%%wisgate_image --size 128x128 --vary quality=low,high --no-display\na fox")
    assert sorted(r.body["quality"] for r in server.emulator.image_requests) == ["high", "low"]


def test_edit_with_path_variable_result_and_underscore(shell, session, server, tmp_path):
    source = tmp_path / "in.png"
    Image.new("RGB", (128, 96), "white").save(source)
    shell.run(f"%%wisgate_image --edit {source} --out a --no-display\nmake it blue")
    assert shell.ns["a"].images[0].size == (128, 96)
    shell.ns["pic"] = Image.new("RGB", (80, 64), "red")
    shell.run("%%wisgate_image --edit pic --out b --no-display\nmake it green")
    assert shell.ns["b"].images[0].size == (80, 64)
    shell.run("%%wisgate_image --edit _ --out c --no-display\nadd stars")
    assert shell.ns["c"].images[0].size == (80, 64)
    shell.run("%%wisgate_image --edit a --out d --no-display\nadd a moon")
    assert shell.ns["d"].images[0].size == (128, 96)
    assert [r.endpoint for r in session.history.records] == ["edits"] * 4


def test_edit_with_mask_and_wrong_mask_size(shell, server, tmp_path):
    Image.new("RGB", (128, 128), "white").save(tmp_path / "in.png")
    mask = Image.new("RGBA", (128, 128), (0, 0, 0, 255))
    mask.paste((0, 0, 0, 0), (32, 32, 96, 96))
    mask.save(tmp_path / "mask.png")
    Image.new("RGBA", (64, 64)).save(tmp_path / "small.png")
    shell.run(f"%%wisgate_image --edit {tmp_path / 'in.png'} --mask {tmp_path / 'mask.png'} --no-display\na window")
    assert "mask" in server.emulator.image_requests[0].form
    server.emulator.reset()
    with pytest.raises(ConfigurationError, match="same size"):
        shell.run(f"%%wisgate_image --edit {tmp_path / 'in.png'} --mask {tmp_path / 'small.png'}\na window")
    assert server.emulator.image_requests == []


def test_edit_refuses_a_file_that_is_not_an_image(shell, server, tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ConfigurationError):
        shell.run(f"%%wisgate_image --edit {tmp_path / 'notes.txt'}\na window")
    assert server.emulator.image_requests == []


def test_stream_shows_previews_and_records_the_final_image(shell, session, server):
    shell.run("%%wisgate_image --size 128x128 --stream 2 --out s --no-display\na comet")
    assert server.emulator.image_requests[0].body["stream"] is True
    assert server.emulator.image_requests[0].body["partial_images"] == 2
    assert shell.ns["s"].images[0].size == (128, 128)
    assert session.history.records[-1].params["stream"] is True


def test_dry_run_sends_and_records_nothing(shell, session, server):
    html = captured_html(shell, "%%wisgate_image --size 256x256 --dry-run\na quiet lake")
    assert server.emulator.image_requests == [] and len(session.history) == 0
    text = "".join(html)
    assert "a quiet lake" in text and TEST_KEY not in text and "****" in text


def test_api_error_is_short_and_the_cell_fails(shell, session, server):
    session.config.api_key = "sk-wrong-key-that-is-long-enough"
    with pytest.raises(AuthenticationError) as info:
        shell.run("%%wisgate_image --size 128x128\na cat")
    lines = info.value._render_traceback_()
    assert len(lines) == 1 and "AuthenticationError" in lines[0] and "401" in lines[0]
    assert "sk-wrong-key-that-is-long-enough" not in lines[0]
    assert len(server.emulator.image_requests) == 1  # 401 is not retried
    assert session.history.records[-1].status == "error"


def test_help_describes_the_options(shell):
    doc = shell.ip.find_cell_magic("wisgate_image").__doc__
    for option in ("--size", "--n", "--quality", "--model", "--format", "--background", "--stream", "--edit",
                   "--mask", "--out", "--bg", "--no-display", "--tag", "--demo", "{name}", "---"):
        assert option in doc, option


def test_config_magic_lists_and_sets_settings(shell, session):
    out = io.StringIO()
    import contextlib

    with contextlib.redirect_stdout(out):
        shell.ip.run_line_magic("config", "WisGate")
    listing = out.getvalue()
    for name in ("api_key", "base_url", "model", "demo", "history_dir", "max_retries", "max_concurrency"):
        assert f"WisGate.{name}" in listing
    assert TEST_KEY not in listing
    shell.ip.run_line_magic("config", "WisGate.size = '128x128'")
    assert session.config.size == "128x128"


def test_reload_ext_is_clean(shell, session):
    shell.ip.run_line_magic("reload_ext", "wisgate_nb")
    assert shell.ip.configurables.count(session.config) == 1
    assert shell.ip.find_cell_magic("wisgate_image") is not None
    shell.run("%%wisgate_image --size 128x128 --no-display\na cat")
    assert len(session.history) == 1


def test_wisgate_key_keeps_the_key_in_memory_only(shell, session, monkeypatch, capsys):
    monkeypatch.setattr("getpass.getpass", lambda prompt="": "sk-typed-in-key-1234567890abcdef")
    session.config.api_key = None
    shell.ip.run_line_magic("wisgate_key", "")
    out = capsys.readouterr().out
    assert session.config.api_key.get() == "sk-typed-in-key-1234567890abcdef"
    assert "sk-typed-in-key-1234567890abcdef" not in out and "****" in out
    assert "sk-typed-in-key" not in repr(session.config)


def test_history_magic_shows_a_table_and_a_comparison(shell, session):
    shell.run("%%wisgate_image --size 128x128 --no-display\na fox\n---\na cat")
    table = captured_html(shell, "%wisgate_history")
    assert "<table" in table[0] and "a fox" in table[0] and "used so far: 2 requests, 2 images" in table[0]
    compare = captured_html(shell, "%wisgate_history compare --last 2")
    assert "a fox" in compare[0] and "a cat" in compare[0]


def test_demo_option_needs_no_key_and_says_so_once(shell, session, server):
    session.config.api_key = None
    html = captured_html(shell, "%%wisgate_image --demo --size 128x128\na cat")
    assert any("demo mode" in h for h in html)
    again = captured_html(shell, "%%wisgate_image --demo --size 128x128\na dog")
    assert not any("demo mode:" in h for h in again)
    assert server.emulator.image_requests == []  # in-process demo server, not the network
    assert all(r.demo for r in session.history.records)


def test_no_key_explains_the_three_ways(shell, session):
    session.config.api_key = None
    with pytest.raises(ConfigurationError) as info:
        shell.run("%%wisgate_image\na cat")
    text = str(info.value)
    assert "WISGATE_API_KEY" in text and "%wisgate_key" in text and "demo" in text


def test_retry_after_429_in_the_magic(shell, session, server):
    server.emulator.schedule(Fault("status", status=429, retry_after=0.2))
    shell.run("%%wisgate_image --size 128x128 --no-display\na cat")
    record = session.history.records[-1]
    assert record.status == "ok" and record.attempts == 2
