"""Behind a proxy (issue 15): the demo server on a real loopback socket answers like a common
OpenAI-compatible proxy in front of the API, and the product is used through it from the Python API,
the magic and the panel. One section per finding; each test fails without its fix.

Upstream generations are counted by the server (``Emulator.generations``): what a real API bills.
"""

from __future__ import annotations

import base64
import os
import re
import subprocess
import sys

import pytest
from bounds import PROXY_COOLDOWN_S
from conftest import TEST_KEY
from reliability_helpers import PROMPT, assert_readable, captured_html, closed_port, send, wait_until

import wisgate_nb
from wisgate_nb import (
    ContentPolicyError,
    InternalServerError,
    QuotaExceededError,
    RateLimitError,
)
from wisgate_nb.config import WisGate
from wisgate_nb.core.doctor import checks
from wisgate_nb.core.session import Session, set_current
from wisgate_nb.emulator import PROXY, EmulatorConfig, Fault
from wisgate_nb.errors import KEY_HINT, BadRequestError
from wisgate_nb.records import History

NOTICE = "this endpoint did not stream; showing the final image"
PROXY_FIELDS = ("request_id_header", "codes_as_status", "retry_after", "stream_500", "cooldown", "quota_images")
TIMEOUT = 60  # seconds per test: the cooldown tests wait about 2 s on purpose


@pytest.fixture
def proxy(server):
    """The shared loopback server, behind the emulated proxy for one test (defaults put back afterwards)."""
    config = server.emulator.config
    saved = {name: getattr(config, name) for name in PROXY_FIELDS}

    def behave(**fields):
        for name, value in {**{n: getattr(EmulatorConfig(), n) for n in PROXY_FIELDS}, **fields}.items():
            setattr(config, name, value)
        return server

    try:
        yield behave
    finally:
        for name, value in saved.items():
            setattr(config, name, value)


def _panel_generate(session, prompt: str = PROMPT, **values):
    """Type a prompt in a new panel, set its controls, click Generate and wait: (panel, slot)."""
    from wisgate_nb.widgets import Panel

    panel = Panel(session)
    panel._prompt.value = prompt
    panel._form["size"].value = "512x512"
    for name, value in values.items():
        panel._form[name].value = value
    panel._generate.click()
    (slot,) = panel.wait(timeout=30)
    return panel, slot


# ---- 1. every attempt recorded, on every outcome ----------------------------------------------------

@pytest.mark.timeout(TIMEOUT)
@pytest.mark.parametrize("mode", ["generate", "edit"])
def test_a_failed_request_records_every_attempt_and_its_status(mode, session, proxy, input_png, short_backoff):
    server = proxy(codes_as_status=True)
    server.emulator.schedule(*[Fault("status", 503)] * 3)
    with pytest.raises(InternalServerError) as info:
        send(mode, input_png)
    assert (info.value.attempts, info.value.attempt_statuses) == (3, ("503", "503", "503"))
    (record,) = session.history.records
    assert (record.attempts, record.attempt_statuses) == (3, "503,503,503")
    assert len(server.emulator.image_requests) == 3
    row = session.history.df.iloc[-1]
    assert (row["attempts"], row["attempt_statuses"]) == (3, "503,503,503")
    (on_disk,) = History.load(session.history.folder)
    assert (on_disk.attempts, on_disk.attempt_statuses) == (3, "503,503,503")


@pytest.mark.timeout(TIMEOUT)
def test_the_magic_records_every_attempt_of_a_failed_cell(shell, session, proxy, short_backoff):
    proxy().emulator.schedule(Fault("status", 429, retry_after=0.1), Fault("status", 500), Fault("status", 502),
                              Fault("status", 503))  # the 429 is waited out: it uses none of the 2 retries
    with pytest.raises(InternalServerError):
        shell.run("%%wisgate_image --size 128x128\na fox")
    (record,) = session.history.records
    assert (record.source, record.attempts, record.attempt_statuses) == ("magic", 4, "429,500,502,503")


@pytest.mark.timeout(TIMEOUT)
def test_the_panel_records_every_attempt_of_a_failed_generation(session, proxy, short_backoff):
    proxy().emulator.schedule(*[Fault("status", 503)] * 3)
    panel, slot = _panel_generate(session)
    try:
        assert slot.state == "error" and isinstance(slot.error, InternalServerError)
        (record,) = session.history.records
        assert (record.source, record.attempts, record.attempt_statuses) == ("panel", 3, "503,503,503")
    finally:
        panel.close()


@pytest.mark.timeout(TIMEOUT)
def test_a_cancelled_request_records_the_attempts_it_made(session, proxy, short_backoff):
    server = proxy()
    server.emulator.schedule(Fault("status", 500), Fault("slow", delay=3.0))
    job = session.submit(session.prepare(PROMPT, size="64x64"))
    assert wait_until(lambda: len(server.emulator.image_requests) == 2, timeout=10)
    job.cancel()
    assert wait_until(lambda: len(session.history) == 1, timeout=10)
    (record,) = session.history.records
    assert (record.status, record.attempts, record.attempt_statuses) == ("cancelled", 2, "500,cancelled")


# ---- 2. a big JSON error body is JSON; messages carry no base64 -------------------------------------

def _big_message() -> str:
    blob = base64.b64encode(os.urandom(57_000)).decode()  # 76,000 characters, as an image's base64 is
    return f"Upstream failed. Received: data: {{\"b64_json\": \"{blob}\"}}"


@pytest.mark.timeout(TIMEOUT)
@pytest.mark.parametrize("mode", ["generate", "edit"])
def test_a_76_kb_json_error_is_read_as_json_and_quoted_short(mode, session, proxy, input_png):
    session.config.max_retries = 0
    proxy(codes_as_status=True).emulator.schedule(Fault("status", 500, message=_big_message()))
    with pytest.raises(InternalServerError) as info:
        send(mode, input_png)
    message = str(info.value)
    assert message.startswith("HTTP 500: Upstream failed. Received: data:"), message[:300]
    assert "not JSON" not in message
    assert not re.search(r"[A-Za-z0-9+/]{40,}", message), message
    assert len(info.value.message) <= 301
    assert_readable(message)
    (record,) = session.history.records
    assert record.error == message and len(record.error) < 600


def test_the_proxys_stream_500_body_is_big_and_still_read_as_json():
    from wisgate_nb.emulator.proxy import stream_500_body
    from wisgate_nb.http.wire import error_from_response

    stream = b"event: image_generation.partial_image\ndata: " + base64.b64encode(os.urandom(30_000)) + b"\n\n"
    body = stream_500_body(stream)
    assert len(body) >= 70_000
    exc = error_from_response(500, body, {"content-type": "application/json"})
    assert isinstance(exc, InternalServerError) and exc.code == "500"
    assert str(exc).startswith("HTTP 500: APIConnectionError: the upstream answer could not be parsed as JSON")
    assert "[base64 data]" in str(exc) and not re.search(r"[A-Za-z0-9+/]{40,}", str(exc))


# ---- 3. streaming falls back once, and the session remembers ----------------------------------------

@pytest.mark.timeout(TIMEOUT)
@pytest.mark.parametrize("mode", ["stream", "edit-stream"])
def test_a_stream_the_proxy_cannot_pass_on_falls_back_once_and_is_remembered(mode, session, proxy, input_png):
    server = proxy(**PROXY)
    first = send(mode, input_png)
    assert server.emulator.generations == 2, "one cell behind the proxy costs at most 2 upstream generations"
    streamed, plain = server.emulator.image_requests
    assert (streamed.status, streamed.fault, plain.status, plain.fault) == (500, "stream_500", 200, None)
    assert "stream" not in (plain.body or {}) and "partial_images" not in (plain.body or {})
    record = first.record
    assert (record.status, record.attempts, record.attempt_statuses) == ("ok", 2, "500,200")
    assert record.stream_fallback == "HTTP 500 to a streamed request"
    assert record.params["stream"] is True  # what was asked stays in the record
    assert NOTICE in first.html() and first.paths[0].exists()

    again = send(mode, input_png)  # a later cell: not asked to stream, so billed once
    assert server.emulator.generations == 3 and len(server.emulator.image_requests) == 3
    assert "stream" not in (server.emulator.image_requests[-1].body or {})
    assert again.record.attempt_statuses == "200" and NOTICE in again.html()
    assert session.stream_fallback(session.target()) == "HTTP 500 to a streamed request"


@pytest.mark.timeout(TIMEOUT)
def test_the_magic_shows_the_notice_and_later_cells_do_not_stream(shell, session, proxy):
    server = proxy(**PROXY)
    html = captured_html(shell, "%%wisgate_image --stream --size 128x128\na fox in the snow")
    assert any(NOTICE in h and "<img" in h for h in html)
    assert server.emulator.generations == 2
    captured_html(shell, "%%wisgate_image --stream 3 --size 128x128\na second fox")
    assert server.emulator.generations == 3
    assert [r.fault for r in server.emulator.image_requests] == ["stream_500", None, None]
    assert [r.attempt_statuses for r in session.history.records] == ["500,200", "200"]


@pytest.mark.timeout(TIMEOUT)
def test_the_panel_falls_back_says_so_and_remembers(session, proxy):
    server = proxy(**PROXY)
    panel, slot = _panel_generate(session, stream=True)
    try:
        assert slot.state == "ok", slot.summary
        assert NOTICE in slot.summary and NOTICE in panel._status.value
        assert server.emulator.generations == 2
        second = panel.generate("a second lighthouse", stream=True)
        panel.wait(timeout=30)
        assert second.state == "ok" and NOTICE in second.summary
        assert server.emulator.generations == 3
        assert sum(r.fault == "stream_500" for r in server.emulator.image_requests) == 1
    finally:
        panel.close()


@pytest.mark.timeout(TIMEOUT)
def test_a_panel_edit_falls_back_like_a_generation(session, proxy):
    server = proxy(**PROXY)
    panel, original = _panel_generate(session)
    try:
        original._edit_buttons[0].click()
        panel._form["stream"].value = True
        panel._edit_box._prompt.value = "add a red boat"
        panel._edit_box._send_button.click()
        panel.wait(timeout=30)
        edited = panel.slots[-1]
        assert edited.state == "ok" and NOTICE in edited.summary
        assert edited.record.endpoint == "edits" and edited.record.attempt_statuses == "500,200"
        assert server.emulator.generations == 3  # the first generation, then the edit's two
    finally:
        panel.close()


# The faults that make a streamed request fail before its first event, from the fault matrix.
BEFORE_ANY_EVENT = [Fault("status", 500), Fault("status", 502), Fault("status", 503), Fault("html"),
                    Fault("bad_json"), Fault("huge", size_mb=200)]


@pytest.mark.timeout(TIMEOUT)
@pytest.mark.parametrize("mode", ["stream", "edit-stream"])
@pytest.mark.parametrize("fault", BEFORE_ANY_EVENT, ids=lambda f: f"{f.kind}-{f.status}")
def test_a_stream_failing_before_any_event_is_asked_once_without_streaming(fault, mode, session, proxy,
                                                                           input_png):
    session.config.max_retries = 0  # the fallback is not a retry: it happens with no retries left too
    server = proxy()
    server.emulator.schedule(fault)
    generation = send(mode, input_png)
    first, second = server.emulator.image_requests
    assert first.fault == fault.kind and second.fault is None
    assert (first.body or {}).get("stream") in (True, "true") and "stream" not in (second.body or {})
    assert generation.record.attempts == 2 and generation.record.stream_fallback


@pytest.mark.timeout(TIMEOUT)
@pytest.mark.parametrize("mode", ["stream", "edit-stream"])
def test_a_stream_that_delivered_an_event_is_never_replayed(mode, session, proxy, input_png):
    server = proxy()
    server.emulator.schedule(Fault("stream_error", message="The upstream worker crashed."))
    with pytest.raises(InternalServerError):
        send(mode, input_png)
    assert len(server.emulator.image_requests) == 1 and server.emulator.generations == 1
    assert session.stream_fallback(session.target()) is None


# ---- 4. request ids from the headers proxies use ----------------------------------------------------

@pytest.mark.timeout(TIMEOUT)
@pytest.mark.parametrize("mode", ["generate", "edit", "stream"])
def test_the_request_id_comes_from_the_proxys_own_header(mode, session, proxy, input_png):
    server = proxy(request_id_header="x-litellm-call-id")
    generation = send(mode, input_png)
    sent = server.emulator.image_requests[-1]
    assert (generation.request_id, generation.record.request_id_header) == (sent.request_id, "x-litellm-call-id")
    attempts = 4 if mode == "stream" else 3  # a stream is asked once without streaming, then retried twice
    server.emulator.schedule(*[Fault("status", 503)] * attempts)
    with pytest.raises(InternalServerError) as info:
        send(mode, input_png)
    failed = session.history.records[-1]
    assert failed.attempt_statuses == ",".join(["503"] * attempts)
    assert failed.request_id == server.emulator.image_requests[-1].request_id == info.value.request_id
    assert failed.request_id_header == "x-litellm-call-id"
    assert session.history.df.iloc[-1]["request_id_header"] == "x-litellm-call-id"


@pytest.mark.timeout(TIMEOUT)
def test_the_magic_and_the_panel_record_the_proxys_request_id(shell, session, proxy):
    server = proxy(request_id_header="apim-request-id")
    shell.run("%%wisgate_image --size 128x128 --no-display\na fox")
    panel, slot = _panel_generate(session)
    panel.close()
    ids = [r.request_id for r in server.emulator.image_requests]
    assert [(r.source, r.request_id, r.request_id_header) for r in session.history.records] == [
        ("magic", ids[0], "apim-request-id"), ("panel", ids[1], "apim-request-id")]


def test_with_no_id_header_the_record_says_none(session, proxy):
    proxy(request_id_header=None)
    record = send("generate").record
    assert (record.request_id, record.request_id_header) == (None, None)


# ---- 5. the doctor tells the truth about streaming ---------------------------------------------------

@pytest.mark.timeout(TIMEOUT)
def test_the_doctor_reports_an_endpoint_that_did_not_stream(shell, session, proxy):
    proxy(**PROXY)
    assert "not tried yet" in dict(checks(session))["streaming"]
    shell.run("%%wisgate_image --stream --size 128x128 --no-display\na fox")
    line = dict(checks(session))["streaming"]
    assert line.startswith("no: this endpoint did not stream (HTTP 500 to a streamed request)"), line
    html = captured_html(shell, "%wisgate_doctor")
    assert any("this endpoint did not stream" in h for h in html)


@pytest.mark.timeout(TIMEOUT)
def test_the_doctor_counts_streamed_requests_that_failed(session, proxy):
    server = proxy()
    for _ in range(3):
        server.emulator.schedule(Fault("stream_error", message="The upstream worker crashed."))
        with pytest.raises(InternalServerError):
            send("stream")
    line = dict(checks(session))["streaming"]
    assert line.startswith("failing: 3 streamed requests failed this session"), line
    assert "InternalServerError" in line and "not tried" not in line


# ---- 6. messages: the status once, the key hint, moderation without its code -----------------------

@pytest.mark.timeout(TIMEOUT)
@pytest.mark.parametrize("mode", ["generate", "edit"])
def test_messages_behind_a_proxy_that_rewrites_codes(mode, session, proxy, input_png):
    session.config.max_retries = 0
    server = proxy(codes_as_status=True)
    server.emulator.schedule(Fault("status", 500))
    with pytest.raises(InternalServerError) as info:
        send(mode, input_png)
    assert info.value.code == "500" and str(info.value).startswith("HTTP 500: The server had an error")
    assert "(500)" not in str(info.value)

    server.emulator.schedule(Fault("status", 400, message="Invalid API key provided: sk-ab***yz."))
    with pytest.raises(BadRequestError) as info:
        send(mode, input_png)
    assert info.value.hint == KEY_HINT and "(400)" not in str(info.value)

    server.emulator.schedule(Fault("status", 403, message="Authentication failed: the key cannot use this proxy."))
    with pytest.raises(wisgate_nb.PermissionDeniedError) as info:
        send(mode, input_png)
    assert info.value.hint == KEY_HINT

    with pytest.raises(ContentPolicyError) as info:
        send(mode, input_png, prompt="a forbidden picture")
    assert info.value.code == "400" and "safety system" in str(info.value)
    assert session.history.records[-1].error_type == "ContentPolicyError"


@pytest.mark.timeout(TIMEOUT)
def test_the_magic_and_the_panel_name_a_refusal_whose_code_was_dropped(shell, session, proxy):
    proxy(codes_as_status=True)
    with pytest.raises(ContentPolicyError):
        shell.run("%%wisgate_image --size 128x128\na forbidden fox")
    panel, slot = _panel_generate(session, prompt="a forbidden lighthouse")
    try:
        assert isinstance(slot.error, ContentPolicyError)
        assert "safety filter refused" in panel._status.value
    finally:
        panel.close()
    assert [r.error_type for r in session.history.records] == ["ContentPolicyError", "ContentPolicyError"]


# ---- 7. 429 without Retry-After: the wait in the message; quotas never retried ----------------------

COOLDOWN = PROXY_COOLDOWN_S  # longer than two default backoffs (0.5 s + 1 s): without the fix all three fail


@pytest.mark.timeout(TIMEOUT)
@pytest.mark.parametrize("mode", ["generate", "edit", "stream"])
def test_a_cooldown_named_only_in_the_message_is_waited_out(mode, session, proxy, input_png):
    server = proxy(retry_after=False, codes_as_status=True, cooldown=COOLDOWN)
    server.emulator.schedule(Fault("status", 429, retry_after=0.2))  # the proxy strips the Retry-After
    generation = send(mode, input_png)
    first, second, third = server.emulator.image_requests
    assert (first.status, second.status, third.status) == (429, 429, 200)
    assert (first.fault, second.fault) == ("status", "cooldown")
    assert generation.record.attempt_statuses == "429,429,200"
    assert third.timestamp - first.timestamp >= COOLDOWN  # the wait came from the words "Try again in 2 seconds"


@pytest.mark.timeout(TIMEOUT)
def test_the_panel_waits_out_a_cooldown(session, proxy):
    server = proxy(retry_after=False, cooldown=COOLDOWN)
    server.emulator.schedule(Fault("status", 429))
    panel, slot = _panel_generate(session)
    try:
        assert slot.state == "ok", slot.summary
        assert slot.record.attempt_statuses == "429,429,200"
    finally:
        panel.close()


@pytest.mark.timeout(TIMEOUT)
@pytest.mark.parametrize("mode", ["generate", "edit", "stream"])
def test_a_used_up_quota_is_never_retried(mode, session, proxy, input_png):
    server = proxy(quota_images=1)
    send(mode, input_png)
    with pytest.raises(QuotaExceededError) as info:
        send(mode, input_png)
    assert info.value.code == "insufficient_quota" and info.value.server_says_retry is False
    assert len(server.emulator.image_requests) == 2 and server.emulator.image_requests[-1].fault == "quota"
    record = session.history.records[-1]
    assert (record.error_type, record.attempts, record.attempt_statuses) == ("QuotaExceededError", 1, "429")


@pytest.mark.timeout(TIMEOUT)
def test_a_quota_refusal_is_known_by_its_words_when_the_code_is_rewritten(shell, session, proxy):
    server = proxy(codes_as_status=True)
    server.emulator.schedule(Fault("quota"))
    with pytest.raises(QuotaExceededError) as info:
        shell.run("%%wisgate_image --size 128x128\na fox")
    assert info.value.code == "429" and isinstance(info.value, RateLimitError)
    assert len(server.emulator.image_requests) == 1


# ---- the emulator's proxy options from the command line ---------------------------------------------

def test_emulator_help_documents_the_proxy_options():
    result = subprocess.run([sys.executable, "-m", "wisgate_nb.cli", "emulator", "--help"], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0
    for flag in ("--proxy", "--request-id-header", "--codes-as-status", "--no-retry-after", "--stream-500",
                 "--cooldown", "--quota"):
        assert flag in result.stdout


@pytest.mark.parametrize(("argv", "expected"), [
    ([], {"request_id_header": "x-request-id", "codes_as_status": False, "retry_after": True,
          "stream_500": False, "cooldown": 0.0, "quota_images": None}),
    (["--proxy"], {**PROXY, "quota_images": None}),
    (["--proxy", "--cooldown", "1.5", "--request-id-header", "none"], {**PROXY, "cooldown": 1.5,
                                                                       "request_id_header": None}),
    (["--stream-500", "--quota", "3", "--no-retry-after"], {"stream_500": True, "quota_images": 3,
                                                           "retry_after": False, "codes_as_status": False}),
])
def test_emulator_options_make_its_config(argv, expected):
    from wisgate_nb.cli import _parser, emulator_config

    config = emulator_config(_parser().parse_args(["emulator", *argv]))
    assert {name: getattr(config, name) for name in expected} == expected


@pytest.mark.timeout(TIMEOUT)
def test_wisgate_nb_emulator_proxy_on_a_port(tmp_path):
    port = closed_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen([sys.executable, "-m", "wisgate_nb.cli", "emulator", "--proxy", "--port", str(port),
                                "--require-key", TEST_KEY], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    session = Session(WisGate(api_key=TEST_KEY, base_url=f"http://127.0.0.1:{port}/v1", demo=False,
                              history_dir=str(tmp_path / "runs")))
    previous = set_current(session)
    try:
        assert wait_until(lambda: session.check_endpoint(session.target()).startswith("yes"), timeout=30)
        generation = wisgate_nb.generate(PROMPT, size="128x128", stream=True)
        record = generation.record
        assert (record.attempt_statuses, record.request_id_header) == ("500,200", "x-litellm-call-id")
        assert record.stream_fallback and record.request_id.startswith("req_")
        env = {**os.environ, "WISGATE_API_KEY": TEST_KEY, "WISGATE_BASE_URL": session.target().base_url,
               "WISGATE_HISTORY_DIR": str(tmp_path / "cli-runs")}
        cli = subprocess.run([sys.executable, "-m", "wisgate_nb.cli", "generate", PROMPT, "--stream", "--size",
                              "128x128", "--out", str(tmp_path / "out")], capture_output=True, text=True, timeout=60,
                             env=env)
        assert cli.returncode == 0, cli.stderr
        assert f"({NOTICE})" in cli.stderr and cli.stdout.strip().endswith(".png")
    finally:
        session.close()
        set_current(previous)
        process.terminate()
        output = process.communicate(timeout=20)[0]
    assert "behind an emulated proxy" in output
