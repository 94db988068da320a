"""Review (``store_images = true``): the gateway keeps a thumbnail of each image a student received and shows
them to the teacher on /admin/images with the prompts refused for moderation; a failure to keep one never
fails the request. A real gateway on a loopback port in front of the demo server."""

from __future__ import annotations

import io
import logging
import stat

import httpx
from gateway_helpers import HTTP, bearer, classroom
from PIL import Image
from reliability_helpers import wait_until

from wisgate_nb.emulator import Fault
from wisgate_nb.gateway.review import FOLDER, THUMB_PX

GENERATE = "/images/generations"
ON = "store_images = true\n[quota]\nimages_per_day = 20\n"


def _generate(room, token: str, prompt: str, **body) -> httpx.Response:
    return HTTP.post(room.gw.base_url + GENERATE, json={"prompt": prompt, "size": "1024x1024", **body},
                      headers=bearer(token), timeout=60)


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_teacher_reviews_thumbnails_newest_first_and_the_refused_prompts(server, tmp_path):
    with classroom(tmp_path, server.base_url, ON) as room:
        ada, bo = room.student("ada"), room.student("bo")
        assert _generate(room, ada, "a red fox", n=2).status_code == 200
        streamed = _generate(room, bo, "a blue car", stream=True, partial_images=1)
        assert streamed.status_code == 200 and "image_generation.completed" in streamed.text
        refused = _generate(room, bo, "a forbidden picture")  # the demo server's safety system says no
        assert refused.status_code == 400 and refused.json()["error"]["code"] == "moderation_blocked"
        folder = tmp_path / FOLDER  # kept after the answer reached the student: wait for the files
        assert wait_until(lambda: folder.exists() and len(list(folder.iterdir())) == 3, timeout=10)
        files = sorted(folder.iterdir())
        assert _mode(folder) == 0o700 and {_mode(f) for f in files} == {0o600}
        for f in files:
            with Image.open(f) as im:
                assert im.format == "JPEG" and max(im.size) <= THUMB_PX and max(im.size) >= THUMB_PX // 2
        page = room.admin("/admin/images")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        text = page.text
        assert text.index("a blue car") < text.index("a red fox")  # newest first
        assert text.count("<figure>") == 3 and text.count("<b>ada</b>") == 2 and text.count("<b>bo</b>") == 1
        refusals = text[text.index("Prompts refused for moderation"):]
        assert "a forbidden picture" in refusals and "bo" in refusals and "safety system" in refusals
        name = text.split('src="images/')[1].split('"')[0]
        thumb = room.admin(f"/admin/images/{name}")
        assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
        assert Image.open(io.BytesIO(thumb.content)).size[0] <= THUMB_PX
        for bad in ("..%2Fgw.sqlite", "gw_0000-0.jpg", "x.jpg"):
            assert room.admin(f"/admin/images/{bad}").status_code == 404
        # teacher only
        assert HTTP.get(room.gw.root + "/admin/images", headers=bearer(ada), timeout=30).status_code == 403
        assert HTTP.get(room.gw.root + f"/admin/images/{name}", headers=bearer(ada), timeout=30).status_code == 403
        assert HTTP.get(room.gw.root + f"/admin/images/{name}", timeout=30).status_code == 401
        assert 'href="images">Review</a>' in room.admin("/admin/").text


def test_images_are_not_kept_unless_store_images_is_on(server, tmp_path):
    with classroom(tmp_path, server.base_url, "[quota]\nimages_per_day = 20\n") as room:
        assert _generate(room, room.student("ada"), "a red fox").status_code == 200
        assert not (tmp_path / FOLDER).exists()
        page = room.admin("/admin/images")
        assert page.status_code == 200 and "No images kept yet" in page.text and "store_images = true" in page.text


def test_a_thumbnail_that_cannot_be_kept_never_fails_the_request(server, tmp_path, caplog):
    caplog.set_level(logging.WARNING, "wisgate_nb.gateway")
    with classroom(tmp_path, server.base_url, ON) as room:
        token = room.student("ada")
        (tmp_path / FOLDER).write_text("a file where the folder should be", encoding="utf-8")
        first = _generate(room, token, "a red fox")
        assert first.status_code == 200 and len(first.json()["data"]) == 1
        assert wait_until(lambda: _review_said(caplog), timeout=10)  # kept after the answer: wait for it to fail
        (tmp_path / FOLDER).unlink()
        server.emulator.schedule(Fault("undecodable"))
        second = _generate(room, token, "a blue car")
        assert second.status_code == 200  # passed on as the upstream sent it; the student's client judges it
        server.emulator.schedule(Fault("bomb"))
        assert _generate(room, token, "a green tree").status_code == 200
        assert room.quota(token)["used"]["images_today"] == 3  # every request counted, none failed
        assert _generate(room, token, "a yellow sun").status_code == 200
        assert wait_until(lambda: (tmp_path / FOLDER).exists() and len(list((tmp_path / FOLDER).iterdir())) == 1,
                          timeout=10)
        assert [f.name.split("-")[0] for f in (tmp_path / FOLDER).iterdir()] == [_last_id(room)]
        assert wait_until(lambda: len(_review_said(caplog)) == 3, timeout=10), _review_said(caplog)
    said = _review_said(caplog)
    assert len(said) == 3 and "were not kept" in said[0] and all("not kept: not an image" in m for m in said[1:]), said


def _last_id(room) -> str:
    from sqlalchemy import select

    from wisgate_nb.gateway import db

    with room.engine.connect() as conn:
        return conn.execute(select(db.requests.c.id).order_by(db.requests.c.started_at.desc()).limit(1)).scalar()


def test_the_new_pages_and_the_thumbnails_never_hold_the_key(tmp_path):
    from wisgate_nb.emulator import EmulatorConfig, serve

    key = "sk-wg-REVIEW-7e6d5c4b3a29-teacher-only"
    with serve(EmulatorConfig(require_key=key)) as upstream, \
            classroom(tmp_path, upstream.base_url, ON, key=key) as room:
        token = room.student("ada")
        assert _generate(room, token, "a red fox").status_code == 200
        assert wait_until(lambda: (tmp_path / FOLDER).exists() and any((tmp_path / FOLDER).iterdir()), timeout=10)
        answers = [HTTP.get(room.gw.root + "/", headers=bearer(token), timeout=30),
                   HTTP.get(room.gw.base_url + "/models", headers=bearer(token), timeout=30),
                   room.admin("/admin/images"), room.admin("/admin/")]
        name = answers[2].text.split('src="images/')[1].split('"')[0]
        answers.append(room.admin(f"/admin/images/{name}"))
        assert [a.status_code for a in answers] == [200] * 5
        for answer in answers:
            assert key.encode() not in answer.content and "7e6d5c4b3a29" not in str(answer.headers)
        for f in (tmp_path / FOLDER).iterdir():
            assert b"7e6d5c4b3a29" not in f.read_bytes()
            with Image.open(f) as im:
                assert not im.info.get("exif") and not im.getexif()


def _review_said(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("review:")]
