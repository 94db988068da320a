"""The judge through the classroom gateway: forwarded only with allow_judge = true, a request each, never images."""

from __future__ import annotations

import pytest
from gateway_helpers import HTTP, Clock, bearer, classroom

from wisgate_nb import RateLimitError
from wisgate_nb.core.session import set_current
from wisgate_nb.gateway.settings import ConfigError, parse_config
from wisgate_nb.grading.run import grade


def _chats(server) -> list:
    return [r for r in server.emulator.requests if r.path.endswith("/chat/completions")]


def _student_session(room, name: str, **settings):
    session = room.session(room.student(name), **settings)
    previous = set_current(session)
    return session, previous


def test_without_allow_judge_the_gateway_refuses_the_judge(server, tmp_path):
    with classroom(tmp_path, server.base_url, "[quota]\nimages_per_day = 5\n") as room:
        session, previous = _student_session(room, "ann")
        try:
            fox = session.run(session.prepare("a red fox", size="256x256"))
            grades = grade(session, fox, "a red fox")
        finally:
            session.close()
            set_current(previous)
        (failed,) = grades.failures
        assert "NotFoundError" in failed.error and "allow_judge = true" in failed.error
        assert _chats(server) == []  # nothing reached the upstream
        assert room.usage("ann")["images_today"] == 1


def test_with_allow_judge_a_grade_is_a_request_of_the_student_never_an_image(server, tmp_path):
    config = "allow_judge = true\n[quota]\nimages_per_day = 1\nrequests_per_minute = 3\n"
    with classroom(tmp_path, server.base_url, config, clock=Clock()) as room:  # the minute never turns here
        # a refusal of this minute is a wait (the pacer); one longer than rate_limit_wait fails at once
        session, previous = _student_session(room, "ben", rate_limit_wait=1)
        token = session.config.api_key.get()
        try:
            fox = session.run(session.prepare("a red fox in the snow", size="256x256"))
            grades = grade(session, fox, "a red fox")  # the day's images are used up: a grade still goes through
            assert grades[0].score == 5 and grades[0].ok
            quota = room.quota(token)
            assert quota["used"]["images_today"] == 1 and quota["used"]["requests_this_minute"] == 2
            again = grade(session, fox, "a blue car")  # the third request of the minute
            assert again[0].score == 1
            with pytest.raises(RateLimitError, match="requests_per_minute"):
                session.run(session.prepare("a fox", size="256x256"))
            refused = grade(session, fox, "a fox at night")  # the fourth: held back like any request of the minute
            assert refused[0].error.startswith("RateLimitError") and "rate_limit_wait=1 s" in refused[0].error
        finally:
            session.close()
            set_current(previous)
        chats = _chats(server)
        assert len(chats) == 2 and all(c.headers["authorization"] != f"Bearer {token}" for c in chats)
        assert room.usage("ben")["images_today"] == 1


def test_the_judge_refusal_names_the_setting(server, tmp_path):
    with classroom(tmp_path, server.base_url, "") as room:
        token = room.student("cat")
        answer = HTTP.post(room.gw.base_url + "/chat/completions", json={"model": "m", "messages": []},
                            headers=bearer(token), timeout=30)
        assert answer.status_code == 404 and answer.json()["error"]["code"] == "judge_not_allowed"
        assert HTTP.post(room.gw.base_url + "/chat/completions", json={}, timeout=30).status_code == 401


def test_allow_judge_is_true_or_false():
    assert parse_config("allow_judge = true").allow_judge is True
    assert parse_config("").allow_judge is False
    with pytest.raises(ConfigError, match="allow_judge must be true or false"):
        parse_config('allow_judge = "yes"')
