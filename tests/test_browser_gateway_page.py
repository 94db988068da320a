"""The teacher page in real headless Chromium (standalone gateway): sign in with the admin token, press a
student's "reset day" button (a POST form with the page's CSRF token, the cookie SameSite=strict), see
what happened, and download the CSV of the day's requests.
"""

from __future__ import annotations

import csv
import io

import pytest
from browser import chromium_page, requires_browser
from gateway_helpers import ADMIN_TOKEN, HTTP, bearer, classroom

pytestmark = [requires_browser, pytest.mark.timeout(240)]


def test_a_teacher_resets_a_student_and_downloads_the_csv_in_a_browser(server, tmp_path):
    with classroom(tmp_path, server.base_url, "[quota]\nimages_per_day = 1\n") as room:
        token = room.student("nia")

        def generate() -> int:
            return HTTP.post(room.gw.base_url + "/images/generations", json={"prompt": "a fox", "size": "256x256"},
                              headers=bearer(token), timeout=30).status_code

        assert [generate(), generate()] == [200, 429]
        with chromium_page() as page:
            page.goto(room.gw.root + "/admin/")
            page.fill('input[name="token"]', ADMIN_TOKEN)
            page.click('button[type="submit"]')
            page.wait_for_selector("text=Students today")
            page.click('button[aria-label="reset day nia"]')
            page.wait_for_selector('[role="status"]')
            assert page.inner_text('[role="status"]') == "nia: today's images given back."
            assert page.url.startswith(room.gw.root + "/admin/?done=")
            assert generate() == 200
            with page.expect_download() as download:
                page.click("text=Download CSV")
            rows = list(csv.DictReader(io.StringIO(open(download.value.path(), encoding="utf-8").read())))
        assert [(r["student"], r["status"]) for r in rows] == [("nia", "200"), ("nia", "429"), ("nia", "200")]
