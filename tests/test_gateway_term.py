"""Limits over a term through the real gateway (a loopback port, the loopback demo server upstream): ISO weeks,
the whole term, assignment windows and hub groups, exact under concurrent requests; refusals name the limit.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from gateway_helpers import ADMIN_TOKEN, HTTP, START, Clock, bearer, check_old_schema, check_term, classroom
from sqlalchemy import select

from wisgate_nb.gateway import db
from wisgate_nb.gateway.settings import ConfigError, parse_config

GENERATE = "/images/generations"
DAY = 86400.0
LAB = '[[assignments]]\nname = "lab3"\nstart = 2025-11-24T11:00:00Z\nend = 2025-11-24T13:00:00Z\nimages = 3\n'


def _burst(room, token: str, count: int, n: int = 1) -> list[httpx.Response]:
    """``count`` requests of one student at the same time."""
    body = {"prompt": "a fox", "size": "256x256", "n": n}
    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(lambda _: HTTP.post(room.gw.base_url + GENERATE, json=body, headers=bearer(token),
                                                  timeout=60), range(count)))


def _class_burst(room, tokens: list[str], count: int) -> list[list[int]]:
    """Every student ``count`` requests, all at once: their statuses, per student."""
    with ThreadPoolExecutor(len(tokens)) as pool:
        return [[r.status_code for r in rs] for rs in pool.map(lambda t: _burst(room, t, count), tokens)]


def _refusal(r: httpx.Response) -> str:
    assert r.status_code == 429 and r.headers["x-should-retry"] == "false", r.text
    assert r.json()["error"]["code"] == "quota_exceeded"
    return r.json()["error"]["message"]


def test_the_week_limit_holds_under_concurrency_and_resets_on_monday(server, tmp_path):
    server.emulator.config.latency = 0.2  # the requests overlap in the gateway
    clock = Clock()  # Monday 2025-11-24 12:00 UTC
    with classroom(tmp_path, server.base_url, "[quota]\nimages_per_day = 3\nimages_per_week = 5\n", clock=clock) as room:
        tokens = [room.student(f"s{i}") for i in range(4)]
        assert [sorted(s) for s in _class_burst(room, tokens, 5)] == [[200] * 3 + [429] * 2] * 4  # the day first
        clock.advance(DAY)
        assert [sorted(s) for s in _class_burst(room, tokens, 4)] == [[200] * 2 + [429] * 2] * 4  # then the week
        assert len(server.emulator.image_requests) == 4 * 5
        message = _refusal(_burst(room, tokens[0], 1)[0])
        assert "images_per_week is 5 for s0 and 5 have been used this week" in message
        assert "it resets at 2025-12-01 00:00 UTC" in message
        quota = room.quota(tokens[0])
        assert quota["week"] == {"week": "2025-W48", "used": 5, "limit": 5, "remaining": 0,
                                 "resets_at": "2025-12-01T00:00:00Z"}
        assert quota["remaining"]["images_today"] == 0  # the least of what every limit leaves
        clock.advance(6 * DAY - 12 * 3600)  # Monday 2025-12-01 00:00: a new week
        assert [r.status_code for r in _burst(room, tokens[0], 1)] == [200]
        assert room.quota(tokens[0])["week"]["used"] == 1


def test_the_term_limit_holds_and_does_not_reset(server, tmp_path):
    server.emulator.config.latency = 0.2
    clock = Clock()
    with classroom(tmp_path, server.base_url, "[quota]\nimages_total = 4\n", clock=clock) as room:
        tokens = [room.student(f"t{i}") for i in range(3)]
        results = _class_burst(room, tokens, 3)  # n = 1 each: 3 of 4 go through
        clock.advance(40 * DAY)
        results2 = [[r.status_code for r in _burst(room, t, 3, n=1)] for t in tokens]
        assert [sorted(a + b) for a, b in zip(results, results2)] == [[200] * 4 + [429] * 2] * 3
        message = _refusal(_burst(room, tokens[1], 1)[0])
        assert "images_total is 4 for t1 and 4 have been used this term" in message
        assert "it does not reset during the term" in message
        assert room.quota(tokens[1])["term"] == {"used": 4, "limit": 4, "remaining": 0}


def test_an_assignment_window_has_its_own_budget_and_each_record_names_it(server, tmp_path):
    server.emulator.config.latency = 0.2
    clock = Clock(START - 2 * 3600)  # 10:00, before the window (11:00-13:00)
    with classroom(tmp_path, server.base_url, "[quota]\nimages_per_day = 10\n" + LAB, clock=clock) as room:
        token = room.student("uma")
        assert [r.status_code for r in _burst(room, token, 1)] == [200]
        assert room.quota(token)["assignment"] is None
        clock.advance(2 * 3600)  # 12:00: lab3 is open
        assert sorted(r.status_code for r in _burst(room, token, 5)) == [200] * 3 + [429] * 2
        message = _refusal(_burst(room, token, 1)[0])
        assert ("the assignment lab3 allows 3 images per student and uma has used 3" in message
                and "ends at 2025-11-24 13:00 UTC" in message)
        assert room.quota(token)["assignment"] == {"name": "lab3", "ends_at": "2025-11-24T13:00:00Z", "limit": 3,
                                                   "used": 3, "remaining": 0}
        clock.advance(3600)  # 13:00: closed, only the day's limit applies
        assert [r.status_code for r in _burst(room, token, 1)] == [200]
        r = db.requests.c
        with room.engine.connect() as conn:
            rows = conn.execute(select(r.outcome, r.assignment).order_by(r.started_at)).all()
        assert [tuple(row) for row in rows if row.outcome == "ok"] == [("ok", None)] + [("ok", "lab3")] * 3 + [
            ("ok", None)]
        assert {row.assignment for row in rows if row.outcome == "refused"} == {"lab3"}
        sums = room.admin("/admin/usage?by=assignment").json()["rows"]
        assert [(s["assignment"], s["images"]) for s in sums] == [(None, 2), ("lab3", 3)]


def test_a_students_override_wins_over_their_groups_and_the_most_generous_group_wins():
    config = parse_config("[quota]\nimages_per_day = 5\nimages_per_week = 20\n"
                          "[quota.groups.advanced]\nimages_per_day = 40\n"
                          "[quota.groups.extra]\nimages_per_day = 10\nimages_per_week = 50\n"
                          "[quota.students.ana]\nimages_per_day = 7\n")
    assert config.limits_for("bob").images_per_day == 5
    assert config.limits_for("bob", ("advanced",)).images_per_day == 40
    both = config.limits_for("bob", ("extra", "advanced", "unknown"))
    assert (both.images_per_day, both.images_per_week) == (40, 50)
    assert config.limits_for("ana", ("advanced",)).images_per_day == 7  # her own override first


@pytest.mark.parametrize(("text", "words"), [
    (LAB + LAB.replace("lab3", "lab4"), "assignments lab3 and lab4 overlap"),
    (LAB + LAB, "the name(s) lab3 appear more than once"),
    (LAB.replace("end = 2025-11-24T13", "end = 2025-11-24T10"), "end must be after start"),
    (LAB.replace("images = 3", "images = -1"), "assignments[0].images must be a whole number >= 0"),
    (LAB.replace('start = 2025-11-24T11:00:00Z', 'start = "monday"'), "assignments[0].start must be a date and time"),
    ('[[assignments]]\nname = "x"\n', "missing start, end, images"),
    ("[quota.groups.a]\nimages_per_wek = 3\n", "unknown key(s) in [quota.groups.a]: images_per_wek"),
    ("lease_s = 90\n", "lease_s must be at most 60"),
])
def test_term_settings_are_checked_strictly(text, words):
    with pytest.raises(ConfigError) as info:
        parse_config(text)
    assert words in str(info.value)


def test_limits_over_a_term_reset_block_and_the_lease_on_sqlite(tmp_path):
    engine = db.connect(f"sqlite:///{tmp_path / 'gw.sqlite'}")
    try:
        check_term(engine)
    finally:
        engine.dispose()


def test_a_database_of_an_older_version_gains_the_new_columns(tmp_path):
    check_old_schema(f"sqlite:///{tmp_path / 'old.sqlite'}")


def test_a_hub_users_groups_choose_their_limits(server, tmp_path):
    """The hub's answer about a token (its user model, with ``groups``) decides which overrides apply; the hub
    itself is test_gateway_hub's: here the gateway's authenticator answers as the hub would."""
    from wisgate_nb.gateway.auth import Caller

    config = "[quota]\nimages_per_day = 1\n[quota.groups.advanced]\nimages_per_day = 3\n"
    with classroom(tmp_path, server.base_url, config) as room:
        members = {"tok-gia": Caller("gia", groups=("advanced",)), "tok-hal": Caller("hal", groups=("beginners",)),
                   ADMIN_TOKEN: Caller(None, teacher=True)}

        async def identify(authorization: str, cookie=None, hub_cookie=None, **_) -> Caller:
            return members[authorization.split()[-1]]

        room.gw.gateway.auth.identify = identify
        assert sorted(r.status_code for r in _burst(room, "tok-gia", 4)) == [200, 200, 200, 429]
        assert sorted(r.status_code for r in _burst(room, "tok-hal", 2)) == [200, 429]
        assert room.quota("tok-gia")["limits"]["images_per_day"] == 3
        limits = {s["student"]: s["images_per_day"] for s in room.admin().json()["students"]}
        assert limits == {"gia": 3, "hal": 1}  # the teacher's report too: the groups of their last request
