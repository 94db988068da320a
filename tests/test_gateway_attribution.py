"""Upstream attribution: the demo server behind the gateway receives safety_identifier and user, a keyed hash
of the student (never the name), in JSON and multipart requests; the record keeps the same value.
"""

from __future__ import annotations

import hashlib
import io

from gateway_helpers import HTTP, bearer, classroom
from PIL import Image
from sqlalchemy import select

from wisgate_nb.gateway import db


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", (64, 64), (10, 120, 200, 255)).save(out, "PNG")
    return out.getvalue()


def test_each_request_upstream_carries_the_students_keyed_hash(server, tmp_path):
    with classroom(tmp_path / "a", server.base_url, "") as room:
        ann, bob = room.student("ann"), room.student("bob")
        for token, extra in ((ann, {}), (ann, {"user": "ann", "safety_identifier": "i-am-bob"}), (bob, {})):
            r = HTTP.post(room.gw.base_url + "/images/generations", headers=bearer(token), timeout=30,
                           json={"prompt": "a fox", "size": "256x256", **extra})
            assert r.status_code == 200, r.text
        r = HTTP.post(room.gw.base_url + "/images/edits", headers=bearer(ann), timeout=30,
                       data={"prompt": "a boat", "size": "256x256", "user": "ann"},
                       files={"image": ("boat.png", _png(), "image/png")})
        assert r.status_code == 200, r.text
        seen = server.emulator.image_requests
        sent = [(s.json or s.form) for s in seen]
        ids = [(x["safety_identifier"], x["user"]) for x in sent]
        assert all(a == b for a, b in ids)  # user and safety_identifier: the same value
        ann_id, bob_id = ids[0][0], ids[2][0]
        assert [i for i, _ in ids] == [ann_id, ann_id, bob_id, ann_id]  # stable; the student's own values replaced
        assert ann_id != bob_id and len(ann_id) <= 64
        for name in ("ann", "bob"):  # never the name, nor a plain hash of it
            assert name not in ann_id + bob_id and hashlib.sha256(name.encode()).hexdigest()[:32] not in ann_id + bob_id
        assert seen[3].form["image"]["size"] == len(_png()) and seen[3].form["prompt"] == "a boat"
        r_ = db.requests.c
        with room.engine.connect() as conn:
            kept = conn.execute(select(r_.student, r_.safety_id).order_by(r_.started_at)).all()
        assert [tuple(k) for k in kept] == [("ann", ann_id), ("ann", ann_id), ("bob", bob_id), ("ann", ann_id)]
    # a gateway started again on the same database gives the same identifiers; another database, others
    with classroom(tmp_path / "a", server.base_url, "") as again, classroom(tmp_path / "b", server.base_url, "") as other:
        for room in (again, other):
            assert HTTP.post(room.gw.base_url + "/images/generations", headers=bearer(room.student("ann")),
                              json={"prompt": "x", "size": "256x256"}, timeout=30).status_code == 200
        assert server.emulator.image_requests[4].json["user"] == ann_id
        assert server.emulator.image_requests[5].json["user"] not in (ann_id, bob_id)
