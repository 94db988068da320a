"""Running a class from the command line and the teacher page (standalone, SQLite): reset, block, unblock,
remove, reports over a range as a table, CSV and JSON; the page's buttons are CSRF-protected POSTs.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import re
import threading
import time
from dataclasses import replace

import httpx
import pytest
from bounds import RELEASE_S
from gateway_helpers import ADMIN_TOKEN, HTTP, Clock, bearer, classroom, cli, gateway_env, settings_for
from reliability_helpers import wait_until
from sqlalchemy import select

from wisgate_nb.gateway import db
from wisgate_nb.gateway.server import serve

GENERATE = "/images/generations"
BODY = {"prompt": "a fox", "size": "256x256"}


def _post(room, token: str, **extra) -> httpx.Response:
    return HTTP.post(room.gw.base_url + GENERATE, json={**BODY, **extra}, headers=bearer(token), timeout=60)


def _gateway_cli(room, *args: str) -> str:
    done = cli(*args, "--config", str(room.config_path), "--db", f"sqlite:///{room.tmp / 'gw.sqlite'}",
               env=gateway_env("http://127.0.0.1:9/v1"), cwd=room.tmp)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_reset_block_unblock_remove_from_the_command_line(server, tmp_path):
    with classroom(tmp_path, server.base_url, "[quota]\nimages_per_day = 2\nimages_per_week = 3\n") as room:
        token = room.student("kai")
        assert [_post(room, token).status_code for _ in range(3)] == [200, 200, 429]
        assert "kai: today's images given back." in _gateway_cli(room, "reset", "kai")
        assert [_post(room, token).status_code for _ in range(2)] == [200, 429]  # the week still counts 3
        assert "images_per_week is 3" in _post(room, token).json()["error"]["message"]
        assert "this week's images given back" in _gateway_cli(room, "reset", "kai", "--period", "week")
        assert _post(room, token).status_code == 200
        assert (room.quota(token)["used"]["images_today"], room.quota(token)["week"]["used"]) == (2, 1)
        assert "every count" in _gateway_cli(room, "reset", "kai", "--period", "all")
        assert (room.quota(token)["used"]["images_today"], room.quota(token)["week"]["used"]) == (0, 0)

        assert "kai is blocked" in _gateway_cli(room, "block", "kai")
        refused = _post(room, token)
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "student_blocked"
        assert "blocked kai" in refused.json()["error"]["message"] and room.quota(token)["blocked"] is True
        assert room.usage("kai")["blocked"] is True and room.usage("kai")["refusals_today"] >= 1
        assert "kai is unblocked" in _gateway_cli(room, "unblock", "kai")
        assert _post(room, token).status_code == 200

        assert "token no longer works" in _gateway_cli(room, "remove", "kai")
        assert _post(room, token).status_code == 401
        again = cli("remove", "kai", "--config", str(room.config_path), "--db", f"sqlite:///{tmp_path / 'gw.sqlite'}",
                    env=gateway_env("http://127.0.0.1:9/v1"), cwd=tmp_path)
        assert again.returncode == 2 and "there is no student 'kai'" in again.stderr
        bad = cli("reset", "kai", "--period", "month", env=gateway_env("http://127.0.0.1:9/v1"), cwd=tmp_path)
        assert bad.returncode == 2 and "invalid choice: 'month'" in bad.stderr
        bad = cli("usage", "--from", "1.12.2025", env=gateway_env("http://127.0.0.1:9/v1"), cwd=tmp_path)
        assert bad.returncode == 2 and "'from' must be a day as YYYY-MM-DD (UTC), got '1.12.2025'" in bad.stderr


def test_reset_releases_the_requests_in_flight_at_once(server, tmp_path):
    server.emulator.config.latency = 5.0
    with classroom(tmp_path, server.base_url, "[quota]\nimages_per_day = 2\nmax_concurrent = 1\n") as room:
        token = room.student("lea")
        answers: list[httpx.Response] = []
        slow = threading.Thread(target=lambda: answers.append(_post(room, token, n=2)))
        slow.start()
        assert wait_until(lambda: len(server.emulator.image_requests) == 1, timeout=10)
        assert room.quota(token)["used"] == {"images_today": 2, "requests_this_minute": 1, "in_flight": 1}
        assert "1 request(s) in flight released" in _gateway_cli(room, "reset", "lea")
        assert wait_until(lambda: room.quota(token)["used"]["in_flight"] == 0, timeout=RELEASE_S)
        server.emulator.config.latency = 0.0
        assert _post(room, token).status_code == 200  # neither max_concurrent nor the day holds it back
        slow.join(30)
        assert answers[0].status_code == 200  # the released request still answers, and what it made counts
        assert room.quota(token)["used"]["images_today"] == 3


def test_reports_over_a_range_as_table_csv_and_json(server, tmp_path):
    clock = Clock()  # 2025-11-24 12:00 UTC
    with classroom(tmp_path, server.base_url, "[quota]\nimages_per_day = 3\n", clock=clock) as room:
        ann, bob = room.student("ann"), room.student("bob")
        assert _post(room, ann, n=2, prompt="=HYPERLINK(\"x\")").status_code == 200
        clock.advance(86400)
        assert [_post(room, bob).status_code for _ in range(4)] == [200, 200, 200, 429]
        lines = _gateway_cli(room, "usage", "--from", "2025-11-24", "--to", "2025-11-25", "--by", "student")
        table = [line.split() for line in lines.splitlines()]
        assert table[0][:5] == ["from", "2025-11-24", "to", "2025-11-25", "(UTC"]
        assert table[3][:5] == ["ann", "1", "1", "2", "0"] and table[4][:5] == ["bob", "4", "3", "3", "1"]
        by_day = list(csv.DictReader(io.StringIO(_gateway_cli(room, "usage", "--by", "day", "--csv"))))
        assert [(r["day"], r["images"], r["students"]) for r in by_day] == [("2025-11-24", "2", "1"),
                                                                             ("2025-11-25", "3", "1")]
        rows = list(csv.DictReader(io.StringIO(_gateway_cli(room, "usage", "--csv", "--from", "2025-11-25"))))
        assert [(r["student"], r["status"], r["images"]) for r in rows] == [("bob", "200", "1")] * 3 + [
            ("bob", "429", "0")]

        export = room.admin("/admin/usage.csv?from=2025-11-24&to=2025-11-24")
        assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
        assert 'filename="wisgate-usage_2025-11-24_2025-11-24.csv"' in export.headers["content-disposition"]
        [row] = list(csv.DictReader(io.StringIO(export.text)))
        assert list(row) == ["time", "student", "route", "model", "size", "n", "images", "status", "outcome",
                             "tokens", "latency_s", "request_id", "assignment", "prompt"]
        assert (row["time"], row["student"], row["n"], row["images"], row["assignment"]) == (
            "2025-11-24T12:00:00Z", "ann", "2", "2", "")
        assert row["prompt"] == "'=HYPERLINK(\"x\")"  # a spreadsheet shows it, never runs it
        assert int(row["tokens"]) > 0 and float(row["latency_s"]) > 0 and row["request_id"]

        sums = room.admin("/admin/usage?from=2025-11-25&by=student").json()
        assert (sums["from"], sums["to"], sums["by"]) == ("2025-11-25", None, "student")
        assert [(s["student"], s["requests"], s["images"], s["refusals"]) for s in sums["rows"]] == [("bob", 4, 3, 1)]
        assert "students" in room.admin("/admin/usage").json()  # no range: today's report as before
        for bad in ("/admin/usage?from=25-11-2025", "/admin/usage?by=week", "/admin/usage.csv?from=2025-11-25&to=2025-11-24"):
            answer = room.admin(bad)
            assert answer.status_code == 400 and answer.json()["error"]["code"] == "invalid_value", bad
        assert HTTP.get(room.gw.root + "/admin/usage.csv", headers=bearer(ann)).status_code == 403


def test_the_teacher_page_buttons_post_with_a_csrf_token_tied_to_the_session(server, tmp_path):
    with classroom(tmp_path, server.base_url, "[quota]\nimages_per_day = 1\n") as room:
        token = room.student("max")
        assert _post(room, token).status_code == 200
        browser = httpx.Client(base_url=room.gw.root, timeout=30)
        assert browser.post("/admin/login", data={"token": ADMIN_TOKEN}).status_code == 303
        shown = browser.get("/admin/")
        assert 'action="students/max/reset"' in shown.text and "Download CSV" in shown.text
        csrf = re.search(r'name="csrf" value="([0-9a-f]{64})"', shown.text).group(1)
        # without the token, with another session's token, or from a student: refused, nothing changes
        assert browser.post("/admin/students/max/reset", data={"period": "day"}).status_code == 403
        assert browser.post("/admin/students/max/reset", data={"csrf": "0" * 64}).status_code == 403
        assert browser.post("/admin/students/max/reset", data={"csrf": "é" * 64}).status_code == 403
        assert HTTP.post(room.gw.root + "/admin/students/max/reset", data={"csrf": csrf},
                          headers=bearer(token)).status_code == 403
        assert HTTP.post(room.gw.root + "/admin/students/max/reset", data={"csrf": csrf}).status_code == 401
        assert _post(room, token).status_code == 429
        done = browser.post("/admin/students/max/reset", data={"csrf": csrf, "period": "day"})
        assert done.status_code == 303 and done.headers["location"].startswith("/admin/?done=")
        assert "max: today&#x27;s images given back." in browser.get(done.headers["location"]).text
        assert _post(room, token).status_code == 200
        assert browser.post("/admin/students/max/block", data={"csrf": csrf}).status_code == 303
        assert "max (blocked)" in browser.get("/admin/").text and _post(room, token).status_code == 403
        # a script with the admin token needs no CSRF token and gets JSON
        api = HTTP.post(room.gw.root + "/admin/students/max/unblock", headers=bearer(ADMIN_TOKEN))
        assert api.status_code == 200 and api.json() == {"student": "max", "action": "unblock",
                                                         "done": "max is unblocked."}
        unknown = HTTP.post(room.gw.root + "/admin/students/max/expel", headers=bearer(ADMIN_TOKEN))
        assert unknown.status_code == 400 and "unknown action 'expel'" in unknown.json()["error"]["message"]
        gone = HTTP.post(room.gw.root + "/admin/students/max/remove", headers=bearer(ADMIN_TOKEN))
        assert gone.status_code == 200 and _post(room, token).status_code == 401


def test_store_prompts_false_purges_the_prompts_already_stored(server, tmp_path):
    with classroom(tmp_path, server.base_url, "store_prompts = true\n") as room:
        token = room.student("pia")
        assert _post(room, token, prompt="my secret diary").status_code == 200

        def prompts() -> list:
            with room.engine.connect() as conn:
                return conn.execute(select(db.requests.c.prompt)).scalars().all()

        assert prompts() == ["my secret diary"]
        room.config_path.write_text("store_prompts = false\n", encoding="utf-8")
        os.utime(room.config_path, (time.time() + 5, time.time() + 5))  # a new modification time, surely
        assert wait_until(lambda: room.admin().status_code == 200 and prompts() == [None], timeout=10)
        assert _post(room, token, prompt="another").status_code == 200 and prompts() == [None, None]
        assert "my secret diary" not in room.admin("/admin/usage.csv").text
    with classroom(tmp_path, server.base_url, "store_prompts = true\n") as room:  # kept again, then a restart
        assert _post(room, room.student("pia"), prompt="kept").status_code == 200
        assert "kept" in prompts()
    with classroom(tmp_path, server.base_url, "store_prompts = false\n") as room:
        assert prompts() == [None] * 3  # purged at start, before any request


def test_a_standalone_gateway_without_an_admin_token_warns_at_start(server, tmp_path, caplog):
    settings = replace(settings_for(tmp_path, server.base_url), admin_token=None)
    with caplog.at_level(logging.WARNING, logger="wisgate_nb.gateway"), serve(settings) as gw:
        assert HTTP.get(gw.root + "/admin/usage", headers=bearer(ADMIN_TOKEN), timeout=30).status_code == 401
    assert any("no admin token is set (WISGATE_GATEWAY_ADMIN_TOKEN)" in r.getMessage() for r in caplog.records)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="wisgate_nb.gateway"), serve(settings_for(tmp_path, server.base_url)):
        pass
    assert not any("no admin token" in r.getMessage() for r in caplog.records)


def test_on_a_hub_remove_is_the_hubs_and_the_page_offers_no_remove_button():
    from types import SimpleNamespace

    from wisgate_nb.gateway import page, teacher

    hub_gateway = SimpleNamespace(settings=SimpleNamespace(hub=object()))
    with pytest.raises(ValueError, match="remove the user there, or block them here"):
        teacher._act(hub_gateway, "kim", "remove", "day")
    report = {"day": "2025-11-24", "resets_at": "2025-11-25T00:00:00Z", "class": {"images_today": 0,
              "images_per_day": None}, "quota": {"images_per_day": 1, "requests_per_minute": None,
              "max_concurrent": None}, "students": [{"student": "kim", "images_today": 0, "images_per_day": 1,
              "requests_today": 0, "refusals_today": 0, "moderation_blocks_today": 0, "errors_today": 0,
              "in_flight": 0, "tokens_today": 0, "last_request_at": None}]}
    assert "/remove" not in page.page(report, [], csrf="c", hub=True) and "/block" in page.page(report, [], csrf="c",
                                                                                                 hub=True)
    assert "/remove" in page.page(report, [], csrf="c")
