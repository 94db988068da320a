"""Quotas through the real gateway on a loopback port, in front of the loopback demo server.

Students are real wisgate_nb sessions; the upstream's own record says how many requests got through.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from bounds import QUOTA_LEFT_S
from conftest import TEST_KEY
from gateway_helpers import HTTP, Clock, bearer, check_expiry, classroom
from reliability_helpers import closed_port, wait_until

from wisgate_nb import QuotaExceededError, ResponseFormatError
from wisgate_nb.config import WisGate
from wisgate_nb.core.session import Session
from wisgate_nb.emulator import Fault
from wisgate_nb.gateway import quota_left
from wisgate_nb.gateway.db import connect
from wisgate_nb.gateway.settings import ConfigError, Limits, parse_config

GENERATE = "/images/generations"


def _run_class(room, tokens: list[str], per_student: int, **options) -> list[list]:
    """Every student sends ``per_student`` requests at once, all students at the same time."""
    sessions = [room.session(token, max_concurrency=per_student) for token in tokens]
    try:
        def one(session):
            return session.run_many([session.prepare(f"a fox, take {i}", size="256x256", **options)
                                     for i in range(per_student)])

        with ThreadPoolExecutor(len(sessions)) as pool:
            return list(pool.map(one, sessions))
    finally:
        for session in sessions:
            session.close()


def test_ten_students_six_concurrent_requests_with_three_images_a_day(server, tmp_path):
    server.emulator.config.latency = 0.3  # the requests overlap in the gateway
    with classroom(tmp_path, server.base_url, "[quota]\nimages_per_day = 3\n") as room:
        tokens = [room.student(f"student{i}") for i in range(10)]
        results = _run_class(room, tokens, 6)
        for per_student in results:
            assert sum(not isinstance(r, Exception) for r in per_student) == 3
            refused = [r for r in per_student if isinstance(r, Exception)]
            assert len(refused) == 3 and all(isinstance(r, QuotaExceededError) for r in refused), refused
            assert all(r.code == "quota_exceeded" and "images_per_day is 3" in str(r) for r in refused)
        assert len(server.emulator.image_requests) == 30
        report = room.admin().json()
        assert [(s["images_today"], s["refusals_today"], s["ok_today"]) for s in report["students"]] == [(3, 3, 3)] * 10
        assert report["class"]["images_today"] == 30
        assert room.quota(tokens[0])["remaining"]["images_today"] == 0


def test_the_class_cap_holds_across_students(server, tmp_path):
    with classroom(tmp_path, server.base_url, "[quota]\nimages_per_day = 4\n[class]\nimages_per_day = 5\n") as room:
        tokens = [room.student(name) for name in ("ann", "ben", "cat")]
        results = _run_class(room, tokens, 3)
        flat = [r for per_student in results for r in per_student]
        assert sum(not isinstance(r, Exception) for r in flat) == 5
        refused = [r for r in flat if isinstance(r, Exception)]
        assert len(refused) == 4 and all(isinstance(r, QuotaExceededError) for r in refused)
        assert all("the class quota is 5 images per day" in str(r) for r in refused)
        assert len(server.emulator.image_requests) == 5
        assert room.admin().json()["class"] == {"images_today": 5, "images_per_day": 5}


def test_requests_per_minute_refuses_then_frees_up_with_the_next_minute(server, tmp_path):
    clock = Clock()
    with classroom(tmp_path, server.base_url, "[quota]\nrequests_per_minute = 2\n", clock=clock) as room:
        token = room.student("dee")
        body = {"prompt": "a fox", "size": "256x256"}
        for _ in range(2):
            assert HTTP.post(room.gw.base_url + GENERATE, json=body, headers=bearer(token), timeout=30).status_code == 200
        third = HTTP.post(room.gw.base_url + GENERATE, json=body, headers=bearer(token), timeout=30)
        assert third.status_code == 429 and third.headers["x-should-retry"] == "false"
        assert third.json()["error"]["code"] == "quota_exceeded"
        assert "requests_per_minute is 2 for dee" in third.json()["error"]["message"]
        assert 1 <= int(third.headers["retry-after"]) <= 60
        clock.advance(60)
        assert HTTP.post(room.gw.base_url + GENERATE, json=body, headers=bearer(token), timeout=30).status_code == 200
        assert len(server.emulator.image_requests) == 3


def test_max_concurrent_refuses_the_request_over_the_limit_as_a_wait(server, tmp_path):
    server.emulator.config.latency = 1.0
    with classroom(tmp_path, server.base_url, "[quota]\nmax_concurrent = 2\n") as room:
        token = room.student("eve")
        body = {"prompt": "a fox", "size": "256x256"}
        with ThreadPoolExecutor(2) as pool:
            running = [pool.submit(httpx.post, room.gw.base_url + GENERATE, json=body, headers=bearer(token),
                                   timeout=30) for _ in range(2)]
            assert wait_until(lambda: len(server.emulator.image_requests) == 2, timeout=10)
            third = HTTP.post(room.gw.base_url + GENERATE, json=body, headers=bearer(token), timeout=30)
            assert [f.result().status_code for f in running] == [200, 200]
        # a wait, not a used-up quota: the client can tell it apart and wait for its own requests (i25)
        assert third.status_code == 429 and third.headers["x-should-retry"] == "true"
        assert third.json()["error"]["code"] == "too_many_concurrent" and int(third.headers["retry-after"]) >= 1
        assert "max_concurrent is 2 for eve and 2 requests are still running" in third.json()["error"]["message"]
        assert len(server.emulator.image_requests) == 2


def test_max_concurrent_refuses_the_request_over_the_limit_and_the_client_waits_for_a_slot(server, tmp_path):
    server.emulator.config.latency = 1.0
    with classroom(tmp_path, server.base_url, "[quota]\nmax_concurrent = 2\n") as room:
        token = room.student("eve")
        [results] = _run_class(room, [token], 3)
        assert [type(r).__name__ for r in results] == ["Generation"] * 3  # a wait, not a lost prompt
        assert sorted(r.record.attempt_statuses for r in results) == ["200", "200", "429,200"]
        assert len(server.emulator.image_requests) == 3
        with ThreadPoolExecutor(3) as pool:
            answers = list(pool.map(lambda _: HTTP.post(room.gw.base_url + GENERATE, headers=bearer(token),
                                                         json={"prompt": "a fox", "size": "256x256"}, timeout=30),
                                    range(3)))
        refusal = next(a for a in answers if a.status_code == 429)
        assert "max_concurrent is 2 for eve and 2 requests are still running" in refusal.json()["error"]["message"]
        server.emulator.config.latency = 0.0
        assert room.quota(token)["used"]["in_flight"] == 0
        [again] = _run_class(room, [token], 1)
        assert not isinstance(again[0], Exception)


def test_the_day_rolls_over_at_midnight_utc(server, tmp_path):
    clock = Clock()
    with classroom(tmp_path, server.base_url, "[quota]\nimages_per_day = 2\n", clock=clock) as room:
        token = room.student("fay")
        session = room.session(token)
        try:
            session.run(session.prepare("a fox", size="256x256", n=2))
            with pytest.raises(QuotaExceededError, match=r"resets at 2025-11-25 00:00 UTC \(in 12 h 0 min\)"):
                session.run(session.prepare("a fox", size="256x256"))
            assert room.quota(token)["resets_at"] == "2025-11-25T00:00:00Z"
            clock.advance(12 * 3600)  # 00:00 the next day
            quota = room.quota(token)
            assert quota["day"] == "2025-11-25" and quota["remaining"]["images_today"] == 2
            session.run(session.prepare("a fox", size="256x256"))
        finally:
            session.close()
        assert len(server.emulator.image_requests) == 2


def test_n_reserves_n_images_and_settles_to_what_came_back(server, tmp_path):
    with classroom(tmp_path, server.base_url, "[quota]\nimages_per_day = 5\n") as room:
        token = room.student("gus")
        session = room.session(token)
        try:
            session.run(session.prepare("a fox", size="256x256", n=3))
            with pytest.raises(QuotaExceededError, match="3 have been used today, so 3 images cannot be added"):
                session.run(session.prepare("a fox", size="256x256", n=3))
            server.emulator.schedule(Fault("no_images"))  # a 200 without images: nothing was spent
            with pytest.raises(ResponseFormatError):
                session.run(session.prepare("a fox", size="256x256", n=2))
            assert room.quota(token)["used"]["images_today"] == 3
            session.run(session.prepare("a fox", size="256x256", n=2))
        finally:
            session.close()
        assert room.quota(token)["remaining"]["images_today"] == 0
        assert room.usage("gus")["images_today"] == 5


def test_a_student_override_and_a_limit_raised_during_class_without_restart(server, tmp_path):
    config = "[quota]\nimages_per_day = 1\n[quota.students.alice]\nimages_per_day = 2\n"
    with classroom(tmp_path, server.base_url, config) as room:
        alice, bob = room.student("alice"), room.student("bob")
        assert room.quota(alice)["limits"]["images_per_day"] == 2
        assert room.quota(bob)["limits"]["images_per_day"] == 1
        body = {"prompt": "a fox", "size": "256x256"}

        def send(token):
            return HTTP.post(room.gw.base_url + GENERATE, json=body, headers=bearer(token), timeout=30).status_code

        assert [send(bob), send(bob)] == [200, 429]
        assert [send(alice), send(alice), send(alice)] == [200, 200, 429]
        room.config_path.write_text(config + "[quota.students.bob]\nimages_per_day = 3\n", encoding="utf-8")
        assert wait_until(lambda: room.quota(bob)["limits"]["images_per_day"] == 3, timeout=5)
        assert [send(bob), send(bob), send(bob)] == [200, 200, 429]
        room.config_path.write_text("[quota]\nimages_per_day = 'many'\n", encoding="utf-8")  # a typo mid-class
        assert wait_until(lambda: room.admin().json()["config"]["error"] is not None, timeout=5)
        assert "images_per_day must be a whole number" in room.admin().json()["config"]["error"]
        assert send(bob) == 429  # the last good limits stay in force
        assert room.quota(bob)["limits"]["images_per_day"] == 3


def test_a_reservation_expires_and_a_late_answer_still_counts(tmp_path):
    check_expiry(connect(f"sqlite:///{tmp_path / 'l.sqlite'}"))


def test_the_config_file_is_checked_strictly():
    config = parse_config("store_prompts = false\n[quota]\nimages_per_day = 20\n[quota.students.x]\nmax_concurrent = 1\n"
                          "[class]\nimages_per_day = 500\n")
    assert config.limits_for("x") == Limits(images_per_day=20, max_concurrent=1)
    assert config.limits_for("y") == Limits(images_per_day=20) and config.class_images_per_day == 500
    assert config.store_prompts is False
    for text, words in [("[quota]\nimages_per_dya = 3\n", "unknown key(s) in [quota]: images_per_dya"),
                        ("[quota]\nimages_per_day = -1\n", "quota.images_per_day must be a whole number >= 0"),
                        ("[quota]\nmax_concurrent = true\n", "quota.max_concurrent must be a whole number"),
                        ("[klass]\n", "unknown key(s) in gateway.toml: klass"),
                        ("[class]\nmax_concurrent = 3\n", "unknown key(s) in [class]: max_concurrent"),
                        ("store_prompts = 'no'\n", "store_prompts must be true or false"),
                        ("[quota\n", "not valid TOML")]:
        with pytest.raises(ConfigError, match=words.replace("[", r"\[").replace("]", r"\]").replace("(", r"\(")
                           .replace(")", r"\)")):
            parse_config(text)


def test_quota_left_is_one_line_and_never_raises(server, tmp_path):
    with classroom(tmp_path, server.base_url, "[quota]\nimages_per_day = 20\n") as room:
        token = room.student("ivy")
        HTTP.post(room.gw.base_url + GENERATE, json={"prompt": "a fox", "size": "256x256", "n": 3},
                   headers=bearer(token), timeout=30).raise_for_status()
        left = quota_left(room.gw.base_url, token)
        assert left is not None and (left.left, left.limit, left.used) == (17, 20, 3)
        assert left.text == "quota: 17 of 20 images left today (resets 00:00 UTC)" == str(left)
        assert quota_left(room.gw.base_url, "wgs_0000000000000000_" + "x" * 43) is None  # 401
    assert quota_left(server.base_url, "k") is None  # a server without /v1/quota (the demo server: 404)
    t0 = time.monotonic()
    assert quota_left(f"http://127.0.0.1:{closed_port()}/v1", "k") is None
    assert time.monotonic() - t0 < QUOTA_LEFT_S


def test_back_to_back_requests_never_find_the_previous_one_in_flight(server, tmp_path):
    with classroom(tmp_path, server.base_url, "[quota]\nmax_concurrent = 1\n") as room:
        token = room.student("jay")
        with httpx.Client(timeout=30) as client:  # one keep-alive connection, each request right after the last
            for i in range(12):
                body = {"prompt": f"a fox {i}", "size": "256x256", "stream": i % 2 == 1, "partial_images": 1}
                r = client.post(room.gw.base_url + GENERATE, json=body, headers=bearer(token))
                assert r.status_code == 200, r.text


def test_the_doctor_shows_the_quota_left(server, tmp_path):
    from wisgate_nb.core.doctor import report

    with classroom(tmp_path, server.base_url, "[quota]\nimages_per_day = 5\n") as room:
        session = room.session(room.student("jo"))
        try:
            session.run(session.prepare("a fox", size="64x64", n=2))
            rows = dict(report(session).rows)
            assert rows["quota"] == "quota: 3 of 5 images left today (resets 00:00 UTC)"
        finally:
            session.close()
    direct = Session(WisGate(api_key=TEST_KEY, base_url=server.base_url, demo=False, history_dir=str(tmp_path)))
    try:
        assert dict(report(direct).rows)["quota"] == "none reported (not a classroom gateway)"
    finally:
        direct.close()


def test_the_panel_header_shows_the_quota_left(server, tmp_path):
    from wisgate_nb.widgets import Panel

    with classroom(tmp_path, server.base_url, "[quota]\nimages_per_day = 4\n") as room:
        session = room.session(room.student("kim"))
        panel = Panel(session)
        try:
            assert wait_until(lambda: "quota: 4 of 4 images left today" in panel._totals.value, timeout=10)
            panel.generate("a fox", size="64x64")
            panel.wait(30)
            assert wait_until(lambda: "quota: 3 of 4 images left today" in panel._totals.value, timeout=10)
        finally:
            panel.close()
            session.close()
