"""Table tests of the small http/ modules — http/quota.py (a gateway's "images left" line) and http/chat.py (the
judge's answer read out of a chat completion) — written so that mutation testing (README, "Mutation testing")
finds no change they miss. Plain bodies and an httpx.MockTransport; no server.
"""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from wisgate_nb._secret import Secret
from wisgate_nb.errors import ResponseFormatError, WisGateError
from wisgate_nb.http import quota
from wisgate_nb.http.chat import ChatClient, ChatResponse, chat_content
from wisgate_nb.http.quota import QUOTA_TIMEOUT_S, QuotaLeft, from_response, quota_left, quota_url
from wisgate_nb.http.tls import tls_context

# ---- http/quota.py ----


def doc(left=17, limit=20, used=3, resets_at="2026-12-08T00:00:00Z", student="ada"):
    return {"remaining": {"images_today": left}, "limits": {"images_per_day": limit}, "used": {"images_today": used},
            "resets_at": resets_at, "student": student}


@pytest.mark.parametrize(("left", "text"), [
    (QuotaLeft(17, 20, 3, "2026-12-08T00:00:00Z"), "quota: 17 of 20 images left today (resets 00:00 UTC)"),
    (QuotaLeft(0, 20, 20, "2026-12-08T23:59"), "quota: 0 of 20 images left today (resets 23:59 UTC)"),
    (QuotaLeft(5, 20, 15, "2026-12-08T23:5"), "quota: 5 of 20 images left today"),  # too short to hold a time
    (QuotaLeft(5, 20, 15, None), "quota: 5 of 20 images left today"),
    (QuotaLeft(None, None, 4, "2026-12-08T00:00:00Z"), "quota: no daily image limit, 4 used today"),
    (QuotaLeft(None, 20, 0, None), "quota: no daily image limit, 0 used today"),
    (QuotaLeft(9, None, 1, "2026-12-08T06:30:00Z"), "quota: 9 images left today for the class (resets 06:30 UTC)"),
])
def test_the_quota_line(left, text):
    assert left.text == text
    assert str(left) == text


def test_a_quota_answer_is_read_whole():
    assert QuotaLeft.from_json(doc()) == QuotaLeft(17, 20, 3, "2026-12-08T00:00:00Z", "ada")
    assert QuotaLeft.from_json(doc(left=None, limit=None, used=None, resets_at=5, student=None)) == QuotaLeft(
        None, None, 0, None, None)


@pytest.mark.parametrize("bad", [
    None, [], "quota", {}, {**doc(), "remaining": {}}, {**doc(), "limits": None}, {**doc(), "used": {}},
    doc(left="17"), doc(left=True), doc(limit=2.5), doc(used=False), doc(used="3"),
])
def test_an_answer_that_is_not_a_quota_is_none(bad):
    assert QuotaLeft.from_json(bad) is None


def test_the_quota_url_is_under_the_base_url():
    assert quota_url("https://hub.example/v1/") == "https://hub.example/v1/quota"
    assert quota_url("https://hub.example/v1") == "https://hub.example/v1/quota"
    assert quota_url("https://hub.example/LATEX//") == "https://hub.example/LATEX/quota"  # only slashes go


@pytest.mark.parametrize(("status", "content", "expected"), [
    (200, json.dumps(doc()).encode(), QuotaLeft(17, 20, 3, "2026-12-08T00:00:00Z", "ada")),
    (201, json.dumps(doc()).encode(), None),
    (404, json.dumps(doc()).encode(), None),
    (200, b"<html>not json</html>", None),
    (200, b'{"remaining": 3}', None),
])
def test_only_a_200_answer_holds_a_quota(status, content, expected):
    assert from_response(httpx.Response(status, content=content)) == expected


class Seen:
    """A MockTransport handler that answers a quota and writes down what it was asked."""

    def __init__(self, response=None):
        self.requests, self.response = [], response

    def __call__(self, request):
        self.requests.append(request)
        if isinstance(self.response, Exception):
            raise self.response
        return self.response or httpx.Response(200, json=doc())


@pytest.mark.parametrize(("key", "authorization"), [
    (Secret("sk-quota-key"), "Bearer sk-quota-key"), ("sk-plain", "Bearer sk-plain"), (None, None), ("", None),
])
def test_quota_left_asks_with_the_key_as_a_bearer_token(key, authorization):
    seen = Seen()
    with httpx.Client(transport=httpx.MockTransport(seen)) as client:
        assert quota_left("https://hub.example/v1/", key, http_client=client) == QuotaLeft.from_json(doc())
    (request,) = seen.requests
    assert (request.method, str(request.url)) == ("GET", "https://hub.example/v1/quota")
    assert request.headers.get("authorization") == authorization
    assert request.extensions["timeout"] == {"connect": QUOTA_TIMEOUT_S, "read": QUOTA_TIMEOUT_S,
                                             "write": QUOTA_TIMEOUT_S, "pool": QUOTA_TIMEOUT_S}


def test_quota_left_passes_its_timeout_on():
    seen = Seen()
    with httpx.Client(transport=httpx.MockTransport(seen)) as client:
        quota_left("https://hub.example/v1", None, timeout=1.5, http_client=client)
    assert seen.requests[0].extensions["timeout"]["read"] == 1.5


@pytest.mark.parametrize("answer", [httpx.ConnectError("refused"), RuntimeError("anything"),
                                    httpx.Response(401, json={"error": "no"})])
def test_quota_left_never_raises(answer):
    with httpx.Client(transport=httpx.MockTransport(Seen(answer))) as client:
        assert quota_left("https://hub.example/v1", "sk-x", http_client=client) is None


def test_quota_left_logs_why_not_without_the_key(caplog):
    secret = "sk-quota-secret-in-the-error"
    with caplog.at_level("DEBUG", logger="wisgate_nb.http.quota"), \
            httpx.Client(transport=httpx.MockTransport(Seen(httpx.ConnectError(f"refused {secret}")))) as client:
        assert quota_left("https://hub.example/v1", secret, http_client=client) is None
    assert [r.getMessage() for r in caplog.records if r.name == "wisgate_nb.http.quota"] == [
        "quota not available: ConnectError"]


def test_quota_left_without_a_client_opens_its_own(monkeypatch):
    seen, made = Seen(), []

    class OwnClient(httpx.Client):
        def __init__(self, **kwargs):
            made.append(kwargs)
            super().__init__(transport=httpx.MockTransport(seen), **kwargs)

    monkeypatch.setattr(quota.httpx, "Client", OwnClient)
    assert quota_left("https://hub.example/v1", Secret("sk-own"), timeout=2.0) == QuotaLeft.from_json(doc())
    assert made == [{"timeout": 2.0, "verify": tls_context()}]  # the process's one TLS context (http/tls.py)
    assert seen.requests[0].headers["authorization"] == "Bearer sk-own"
    assert seen.requests[0].extensions["timeout"]["read"] == 2.0


# ---- http/chat.py: the judge's answer ----


def chat(content, **top):
    return json.dumps({"id": "c1", "choices": [{"message": {"role": "assistant", "content": content}}], **top})


@pytest.mark.parametrize(("body", "text", "top"), [
    (chat("7/10", usage={"total_tokens": 5}), "7/10", {"id": "c1", "usage": {"total_tokens": 5}}),
    (chat(""), "", {"id": "c1"}),
    (chat([{"type": "text", "text": "7"}, {"type": "image"}, {"text": 3}, "x", {"text": "/10"}]), "7/10", {"id": "c1"}),
    (json.dumps({"choices": [{"message": {"content": "a"}}, {"message": {"content": "b"}}]}), "a", {}),
    (chat("ok", error=None), "ok", {"id": "c1", "error": None}),
    (chat("ok", error=""), "ok", {"id": "c1", "error": ""}),
])
def test_the_judges_text_is_its_first_choices_message(body, text, top):
    assert chat_content(body.encode(), "req-1", None) == (text, top)


@pytest.mark.parametrize(("body", "message"), [
    (b"not json", "the judge's answer is not a JSON object"),
    (b"[1, 2]", "the judge's answer is not a JSON object"),
    (json.dumps({"choices": []}).encode(), "the judge's answer has no message text"),
    (json.dumps({"choices": ["text"]}).encode(), "the judge's answer has no message text"),
    (json.dumps({"choices": {"0": {}}}).encode(), "the judge's answer has no message text"),
    (json.dumps({"choices": [{"message": "7/10"}]}).encode(), "the judge's answer has no message text"),
    (json.dumps({"choices": [{"message": {"content": 7}}]}).encode(), "the judge's answer has no message text"),
    (json.dumps({"choices": [{"message": {}}]}).encode(), "the judge's answer has no message text"),
    (json.dumps({}).encode(), "the judge's answer has no message text"),
])
def test_an_answer_without_text_is_a_format_error(body, message):
    with pytest.raises(ResponseFormatError) as info:
        chat_content(body, "req-1", None)
    assert str(info.value) == message
    assert info.value.request_id == "req-1"


def test_a_200_with_an_error_is_an_error_with_the_key_masked_and_cut():
    secret = "sk-judge-secret-key"
    error = {"message": f"bad key {secret} " + "x" * 400, "code": "invalid"}
    with pytest.raises(ResponseFormatError) as info:
        chat_content(json.dumps({"error": error, "choices": []}).encode(), "req-2", secret)
    expected = "the judge answered 200 with an error: " + json.dumps(error)[:300].replace(secret, "***")
    assert str(info.value) == expected
    assert secret not in str(info.value)
    assert info.value.request_id == "req-2"


def judge(*answers):
    """A ChatClient over MockTransport answering in turn (retries without waiting), and the requests it got."""
    seen = []

    def handler(request):
        seen.append(request)
        return answers[min(len(seen), len(answers)) - 1]

    async def no_wait(delay):
        pass

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return ChatClient(base_url="https://judge.example/v1/", api_key="sk-judge-key", http_client=http, sleep=no_wait,
                      max_retries=1), seen


def test_the_judge_is_asked_once_and_its_answer_kept_whole():
    client, seen = judge(httpx.Response(200, content=chat("8/10", usage={"total_tokens": 9}, model="judge-1"),
                                        headers={"x-request-id": "req-9"}))
    answer = asyncio.run(client.complete({"model": "judge-1", "messages": []}))
    assert answer == ChatResponse("8/10", {"total_tokens": 9}, "req-9", 1, ("200",), "judge-1")
    (request,) = seen
    assert (request.method, str(request.url)) == ("POST", "https://judge.example/v1/chat/completions")
    assert json.loads(request.content) == {"model": "judge-1", "messages": []}
    assert request.headers["authorization"] == "Bearer sk-judge-key"


def test_the_judges_usage_is_kept_only_as_a_mapping():
    client, _ = judge(httpx.Response(200, content=chat("8/10", usage="lots")))
    log = []
    answer = asyncio.run(client.complete({}, attempt_log=log))
    assert (answer.usage, answer.model, answer.request_id) == (None, None, None)
    assert log == ["200"]


def test_a_judge_that_fails_says_how_many_attempts_it_took():
    client, seen = judge(httpx.Response(503, json={"error": {"message": "busy"}}))
    with pytest.raises(WisGateError) as info:
        asyncio.run(client.complete({}))
    assert (info.value.attempts, info.value.attempt_statuses) == (2, ("503", "503"))
    assert len(seen) == 2


def test_a_judges_answer_without_text_is_not_retried():
    client, seen = judge(httpx.Response(200, content=b'{"choices": []}', headers={"x-request-id": "req-3"}))
    with pytest.raises(ResponseFormatError) as info:
        asyncio.run(client.complete({}))
    assert str(info.value) == "the judge's answer has no message text"
    assert info.value.request_id == "req-3"
    assert (info.value.attempts, len(seen)) == (1, 1)


def test_a_judges_200_error_never_shows_the_key_even_when_echoed():
    client, _ = judge(httpx.Response(200, json={"error": {"message": "bad key sk-judge-key"}}))
    with pytest.raises(ResponseFormatError) as info:
        asyncio.run(client.complete({}))
    assert str(info.value) == 'the judge answered 200 with an error: {"message": "bad key ***"}'
