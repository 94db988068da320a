"""The gateway under hostile input and a careless upstream: nothing stuck, nothing leaked (issue 23).

A fake upstream (an ASGI app behind the gateway's upstream transport) answers whatever a test sets:
any status, any bytes, a stream that breaks, the teacher's key echoed in a header, a body, an event,
a redirect, written with ``\\u`` escapes. The gateway runs on a real loopback port, on SQLite and
on a real PostgreSQL where the defect is the database's. Also: the demo server's own limits.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager

import httpx
import pytest
from bounds import SLOW_CLIENT_S
from gateway_helpers import ADMIN_TOKEN, HTTP, bearer, classroom, settings_for
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reliability_helpers import debug_logs, image_bytes
from sqlalchemy import create_engine, func, select
from test_gateway_postgres import postgres  # noqa: F401 - the PostgreSQL server fixture
from uvicorn.importer import import_from_string

from wisgate_nb.emulator import EmulatorConfig, serve
from wisgate_nb.emulator.transport import StreamingASGITransport
from wisgate_nb.gateway import db, deadline, intake
from wisgate_nb.gateway.auth import ADMIN_SESSION_S, Authenticator, add_student
from wisgate_nb.gateway.scrub import KeyScrubber
from wisgate_nb.gateway.server import PROTOCOL
from wisgate_nb.gateway.server import serve as serve_gateway
from wisgate_nb.gateway.upstream import UpstreamClient

KEY = "sk-wg-HARDEN-4c3b2a19f8e7/teacher-only"
GENERATE, EDIT = "/images/generations", "/images/edits"
Answer = tuple[int, list[tuple[bytes, bytes]], list[bytes], bool]  # status, headers, body chunks, breaks off


def escaped(text: str, every: int = 2) -> str:
    """``text`` with every ``every``-th character written as a JSON \\u escape (upper-case hex)."""
    return "".join(f"\\u{ord(c):04X}" if i % every == 0 else c for i, c in enumerate(text))


def _json(doc: dict) -> list[bytes]:
    return [json.dumps(doc).encode()]


def image_answer(key: str) -> Answer:
    return 200, [(b"content-type", b"application/json")], _json({"created": 1, "data": [{"b64_json": "AAAA"}]}), False


class CarelessUpstream:
    """An ASGI upstream that answers ``self.answer(key)``: the key it was sent is there to echo."""

    def __init__(self) -> None:
        self.answer: Callable[[str], Answer] = image_answer
        self.calls = 0

    async def __call__(self, scope, receive, send) -> None:
        self.calls += 1
        while (await receive()).get("more_body"):
            pass
        key = dict(scope["headers"]).get(b"authorization", b"").decode().removeprefix("Bearer ")
        status, headers, chunks, breaks = self.answer(key)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        for chunk in chunks:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        if breaks:
            raise ConnectionResetError("the upstream went away mid-answer")
        await send({"type": "http.response.body", "body": b"", "more_body": False})


@contextmanager
def _room(tmp, db_url=None):
    """A classroom whose upstream is a CarelessUpstream (``room.fake``), with one student (``room.token``)."""
    with classroom(tmp, "http://upstream.invalid/v1", "[quota]\nimages_per_day = 1000\n", key=KEY,
                   db_url=db_url) as room:
        fake = CarelessUpstream()
        gw = room.gw.gateway
        asyncio.run(gw.upstream.aclose())
        gw.upstream = UpstreamClient(gw.settings.upstream, 60, transport=StreamingASGITransport(fake))
        room.fake = fake
        room.token = room.student("ann")
        yield room


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def room(request, tmp_path_factory):
    """A gateway in front of a careless upstream, on each database."""
    db_url = request.getfixturevalue("postgres") if request.param == "postgres" else None
    if db_url is not None:
        engine = db.connect(db_url)
        with engine.begin() as conn:
            for table in (db.requests, db.state, db.days, db.class_days, db.students):
                conn.execute(table.delete())
        engine.dispose()
    with _room(tmp_path_factory.mktemp(request.param), db_url) as room:
        yield room


@pytest.fixture
def sqlite_room(tmp_path):
    with _room(tmp_path) as room:
        yield room


def books(room) -> dict:
    """What the ledger holds: nothing may stay reserved or in flight once every answer is in."""
    with room.engine.connect() as conn:
        return {
            "in_flight": conn.execute(select(func.coalesce(func.sum(db.state.c.in_flight), 0))).scalar(),
            "reserved": conn.execute(select(func.count()).select_from(db.requests)
                                     .where(db.requests.c.outcome == "reserved")).scalar(),
        }


def rows(room) -> list[str]:
    with room.engine.connect() as conn:
        return [repr(tuple(row)) for row in conn.execute(select(db.requests))]


def post_json(room, body: bytes, route: str = GENERATE) -> httpx.Response:
    return HTTP.post(room.gw.base_url + route, content=body, timeout=30,
                      headers={**bearer(room.token), "content-type": "application/json"})


def post_form(room, fields: dict, files: dict | None = None) -> httpx.Response:
    files = files or {"image": ("in.png", image_bytes((64, 64)), "image/png")}
    return HTTP.post(room.gw.base_url + EDIT, data=fields, files=files, headers=bearer(room.token), timeout=30)


# -- 1. bad text and foreign digits: a 400 naming the field, before anything is reserved ----------------

BAD_JSON = [
    (b'{"prompt": "a fox \\ud800"}', "prompt"),
    (b'{"prompt": "a fox", "model": "\\u0000"}', "model"),
    (b'{"prompt": "a fox", "size": "256x256\\udfff"}', "size"),
    (b'{"prompt": "a fox", "quality": "\\u0000"}', "quality"),
    (b'{"prompt": "a fox", "user": {"k\\u0000": [1, "\\ud83d"]}}', "user"),
    (b'{"prompt\\u0000": "a fox"}', "prompt\\x00"),
]
BAD_FORM = [
    ({"prompt": "a\x00b"}, "prompt"),
    ({"prompt": "a fox", "n": "\u00b2"}, "n"),
    ({"prompt": "a fox", "output_compression": "\u0663"}, "output_compression"),
    ({"prompt": "a fox", "partial_images": "\uff11"}, "partial_images"),
]


def test_bad_text_and_foreign_digits_are_refused_naming_the_field(room):
    before = room.fake.calls
    answers = [(post_json(room, body), param) for body, param in BAD_JSON]
    answers += [(post_form(room, fields), param) for fields, param in BAD_FORM]
    for r, param in answers:
        assert r.status_code == 400, (param, r.status_code, r.text)
        error = r.json()["error"]
        assert error["type"] == "invalid_request_error" and error["param"] == param, error
    assert room.fake.calls == before  # nothing was sent upstream
    assert books(room) == {"in_flight": 0, "reserved": 0}
    with room.engine.connect() as conn:  # each one is in the record, as invalid
        invalid = conn.execute(select(func.count()).select_from(db.requests)
                               .where(db.requests.c.outcome == "invalid", db.requests.c.status == 400)).scalar()
    assert invalid >= len(answers)


# -- 2. settlement cannot fail, whatever the upstream says -------------------------------------------

def _error(status: int, raw: bytes, headers=((b"content-type", b"application/json"),)) -> Callable[[str], Answer]:
    return lambda key: (status, list(headers), [raw], False)


CARELESS: dict[str, Callable[[str], Answer]] = {
    "NUL in an error message": _error(400, b'{"error": {"message": "Invalid value: \'\\u0000\'", "code": "x"}}'),
    "lone surrogate in an error message": _error(400, b'{"error": {"message": "bad \\ud800", "code": "\\udc00"}}'),
    "NUL in the error code": _error(429, b'{"error": {"message": "slow down", "code": "\\u0000rate"}}'),
    "bytes that are not text": _error(503, b"\x00\xff\xfe\xed", ((b"content-type", b"text/plain"),)),
    "a request id that is not UTF-8": lambda key: (200, [(b"content-type", b"application/json"),
                                                         (b"x-request-id", b"req_\xff\xfe")],
                                                   _json({"data": [{"b64_json": "AA"}]}), False),
    "an error event with NUL": lambda key: (200, [(b"content-type", b"text/event-stream")], [
        b'event: error\ndata: {"type": "error", "error": {"message": "\\u0000\\ud800", "code": "\\u0000"}}\n\n'],
        False),
    "a stream that breaks": lambda key: (200, [(b"content-type", b"text/event-stream")],
                                         [b"event: image_generation.partial_image\ndata: {}\n\n"], True),
    "a JSON answer that breaks": lambda key: (200, [(b"content-type", b"application/json")], [b'{"data": ['], True),
    "a redirect": _error(302, b"moved", ((b"location", b"http://elsewhere.invalid/"),)),
    "a status no API answers": _error(600, b"{}"),
    "a 204 with a body": _error(204, b'{"data": []}'),
}


@pytest.mark.parametrize("case", list(CARELESS))
def test_settlement_cannot_fail_whatever_the_upstream_answers(room, case):
    room.fake.answer = CARELESS[case]
    try:
        r = post_json(room, json.dumps({"prompt": f"a fox ({case})"}).encode())
    except httpx.RemoteProtocolError:  # a JSON answer that broke off is passed on as a broken connection
        assert case == "a JSON answer that breaks"
    else:
        assert r.status_code != 500 and "gateway_error" not in r.text, (r.status_code, r.text)
        if case in ("a redirect", "a status no API answers", "a 204 with a body"):  # not answers: not passed on
            assert r.status_code == 502 and r.json()["error"]["code"] in ("upstream_redirect", "upstream_bad_status")
    finally:
        room.fake.answer = image_answer
    assert books(room) == {"in_flight": 0, "reserved": 0}
    with room.engine.connect() as conn:
        last = conn.execute(select(db.requests.c.outcome, db.requests.c.error)
                            .order_by(db.requests.c.started_at.desc()).limit(1)).one()
    assert last.outcome in ("ok", "error"), last
    assert last.error is None or "could not be stored" not in last.error, last  # stored, words and all


def test_a_database_that_refuses_the_upstreams_words_still_settles(postgres, tmp_path):  # noqa: F811
    """A PostgreSQL database in LATIN1 cannot store 漢字: the settlement is made again without the words."""
    with create_engine(postgres, isolation_level="AUTOCOMMIT").connect() as conn:
        conn.exec_driver_sql("DROP DATABASE IF EXISTS latin1")
        conn.exec_driver_sql("CREATE DATABASE latin1 TEMPLATE template0 ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C'")
    with _room(tmp_path, postgres.rsplit("/", 1)[0] + "/latin1") as room:
        room.fake.answer = _error(400, json.dumps({"error": {"message": "Ungültig: 漢字", "code": "bad"}}).encode())
        r = post_json(room, b'{"prompt": "a fox"}')
        assert r.status_code == 400 and "漢字" in r.json()["error"]["message"]  # the student gets the answer
        assert books(room) == {"in_flight": 0, "reserved": 0}
        with room.engine.connect() as conn:
            row = conn.execute(select(db.requests.c.outcome, db.requests.c.status, db.requests.c.error)).one()
        assert (row.outcome, row.status) == ("error", 400) and "could not be stored" in row.error


# -- 3. the key in nothing a student receives or the gateway stores or logs -------------------------

def _chunks(data: bytes, size: int) -> list[bytes]:
    return [data[i:i + size] for i in range(0, len(data), size)]


ECHOES: dict[str, Callable[[str], Answer]] = {
    "x-request-id": lambda key: (200, [(b"content-type", b"application/json"), (b"x-request-id", key.encode()),
                                       (b"openai-version", f"v {key}".encode())],
                                 _json({"data": [{"b64_json": "AA"}]}), False),
    "a 200 body": lambda key: (200, [(b"content-type", b"application/json")],
                               _json({"data": [{"b64_json": "AA", "revised_prompt": f"you sent {key}"}]}), False),
    "a 200 body, escaped": lambda key: (200, [(b"content-type", b"application/json")],
                                        [b'{"data": [{"b64_json": "AA", "revised_prompt": "' + escaped(key).encode()
                                         + b'"}]}'], False),
    "a 200 body with its length": lambda key: (200, [(b"content-type", b"application/json"),
                                                     (b"content-length", str(len(key) + 70).encode())],
                                               [json.dumps({"data": [{"b64_json": "AA"}], "x": key})
                                                .ljust(len(key) + 70).encode()], False),
    "stream events split mid-key": lambda key: (200, [(b"content-type", b"text/event-stream")], _chunks(
        (f'event: image_generation.completed\ndata: {{"type": "image_generation.completed", "b64_json": "AA", '
         f'"note": "{key}"}}\n\nevent: error\ndata: {{"type": "error", "error": {{"message": "{escaped(key, 3)}",'
         f' "code": "{key}"}}}}\n\n').encode(), 5), False),
    "a stream that breaks mid-key": lambda key: (200, [(b"content-type", b"text/event-stream")],
                                                 [f"data: {{\"note\": \"{key[:-2]}".encode()], True),
    "an error body, escaped": lambda key: (400, [(b"content-type", b"application/json"),
                                                 (b"retry-after", key.encode())],
                                           [b'{"error": {"message": "Bad key ' + escaped(key, 1).lower().encode()
                                            + b'", "code": "' + key.encode() + b'"}}'], False),
    "a redirect": lambda key: (302, [(b"location", f"https://elsewhere.invalid/?key={key}".encode()),
                                     (b"content-type", b"application/json")],
                               _json({"error": {"message": f"see {key}"}}), False),
    "a refused key": lambda key: (401, [(b"content-type", b"application/json"), (b"x-request-id", key.encode())],
                                  _json({"error": {"message": f"Incorrect API key provided: {key}"}}), False),
}


def _unescaped(text: str) -> str:
    """Every JSON string in ``text`` (a body or the data: lines of events) decoded, to find escaped keys."""
    found = [text]
    for part in [text, *(line[5:] for line in text.splitlines() if line.startswith("data:"))]:
        try:
            found.append(json.dumps(json.loads(part), ensure_ascii=False))
        except ValueError:
            pass
    return "\n".join(found)


def assert_no_key(*texts: str) -> None:
    for text in texts:
        assert KEY not in _unescaped(text) and KEY[6:20] not in text, text[:400]


def test_the_key_is_scrubbed_from_every_echo(sqlite_room):
    room = sqlite_room
    seen = []
    with debug_logs("sqlalchemy.engine") as logs:
        for case, answer in ECHOES.items():
            room.fake.answer = answer
            try:
                r = post_json(room, json.dumps({"prompt": case, "stream": "stream" in case}).encode())
            except httpx.RemoteProtocolError as exc:
                seen.append(str(exc))
                continue
            text = r.content.decode("latin-1")
            seen += [text, *(f"{k}: {v}" for k, v in r.headers.multi_items())]
            if case not in ("a redirect", "a refused key"):
                assert "***" in text + str(r.headers), case
            if case == "a 200 body with its length":
                assert int(r.headers["content-length"]) == len(r.content)
            assert r.status_code != 500, (case, r.text)
        page = room.admin("/admin/").text
    assert_no_key(*seen, *rows(room), *logs, page)
    assert books(room) == {"in_flight": 0, "reserved": 0}


FORMS = [KEY, escaped(KEY), escaped(KEY, 1), escaped(KEY, 1).lower(), KEY.replace("/", "\\/"),
         escaped(KEY, 3).replace("/", "\\u002f")]


@pytest.mark.parametrize("form", FORMS)
def test_the_scrubber_finds_every_written_form_of_the_key_across_every_split(form):
    scrubber = KeyScrubber(KEY)
    body = f'{{"a": "{form}", "b": "x{form}"}}\n\n'.encode()
    for cut in range(1, len(body)):
        for keep_length in (False, True):
            stream = scrubber.stream(keep_length=keep_length)
            out = stream.feed(body[:cut]) + stream.feed(body[cut:]) + stream.flush()
            assert_no_key(out.decode())
            assert out.count(b"***") >= 2 and (len(out) == len(body)) is keep_length, (cut, out)
    cut_short = scrubber.stream()  # a body that ends inside the key: the start of the key is not sent either
    assert cut_short.feed(b'{"a": "' + form.encode()[:-3]) + cut_short.flush() == b'{"a": "***'
    assert scrubber.bytes(b"sk-wg- and HARDEN alone") == b"sk-wg- and HARDEN alone"
    assert KeyScrubber("k").bytes(b'{"b64_json": "kkk"}') == b'{"b64_json": "kkk"}'  # a placeholder key: no mask


@contextmanager
def loopback(app):
    """``app`` served by uvicorn on a loopback port: its base URL."""
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False, lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        while not server.started:
            assert thread.is_alive()
            time.sleep(0.01)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def test_an_echo_over_a_real_connection_is_in_no_debug_line_of_the_http_libraries(tmp_path):
    fake = CarelessUpstream()
    with loopback(fake) as url, classroom(tmp_path, url, key=KEY) as room:
        token = room.student("bo")
        with debug_logs() as logs:
            for case in ("x-request-id", "a refused key", "an error body, escaped"):
                fake.answer = ECHOES[case]
                r = HTTP.post(room.gw.base_url + GENERATE, json={"prompt": case}, headers=bearer(token), timeout=30)
                assert_no_key(r.text, str(r.headers))
    assert any("receive_response_headers" in line for line in logs)  # httpcore did log the headers...
    assert_no_key(*logs)  # ...without the key


# -- 4. the teacher's sign-in and pages ---------------------------------------------------------------

def test_admin_sign_in_is_limited_per_address_and_pages_cannot_be_framed(sqlite_room):
    room = sqlite_room
    login = room.gw.root + "/admin/login"
    with httpx.Client(timeout=30) as client:
        wrong = [client.post(login, data={"token": f"guess-{i}"}) for i in range(10)]
        assert [r.status_code for r in wrong] == [401] * 10
        refused = client.post(login, data={"token": ADMIN_TOKEN})  # even the right token, now
        assert refused.status_code == 429 and 1 <= int(refused.headers["retry-after"]) <= 60
        page = client.get(room.gw.root + "/admin/")
    for r in (wrong[0], refused, page):
        csp = r.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "script-src" not in csp and "default-src 'none'" in csp
        assert r.headers["x-frame-options"] == "DENY"


def test_guessing_the_admin_token_as_a_bearer_is_limited_too_but_students_are_not(sqlite_room):
    room = sqlite_room
    usage = room.gw.root + "/admin/usage"
    guesses = [HTTP.get(usage, headers=bearer(f"teacher{i}"), timeout=30).status_code for i in range(10)]
    assert guesses == [401] * 10
    assert HTTP.get(usage, headers=bearer(ADMIN_TOKEN), timeout=30).status_code == 429
    assert HTTP.get(room.gw.base_url + "/quota", headers=bearer(room.token), timeout=30).status_code == 200
    typo = room.token[:-1] + ("a" if room.token[-1] != "a" else "b")  # a student's typo is not a guess
    assert HTTP.get(room.gw.base_url + "/quota", headers=bearer(typo), timeout=30).status_code == 401


class _FakeHub:
    """A JupyterHub's token check (pure logic: the hub's own tests are in test_gateway_hub.py): one student."""

    scope = "access:services!service=wisgate"

    async def user_for_token(self, token, sync=False):
        return {"name": "ann", "kind": "user", "groups": []} if token == "hub-token-of-ann" else None

    def check_scopes(self, scopes, user):
        return True


def test_on_jupyterhub_guessing_the_admin_token_is_limited_too_and_says_nothing(tmp_path):
    """On a hub, any refused bearer counts (a hub token has no shape of its own). After ten from one address, the
    admin token from there is refused as the guesses were (401, not 429: nothing tells a hit), while a student's
    hub token from the same address (a shared NAT) still works, and the teacher elsewhere is not held up."""
    from wisgate_nb.gateway.auth import AuthError

    auth = Authenticator(settings_for(tmp_path, "http://upstream.invalid/v1"), None)
    auth.hub = auth._hub_auth = _FakeHub()

    async def status(address: str, token: str):
        try:
            caller = await auth.identify_at(address, f"Bearer {token}")
        except AuthError as exc:
            return exc.status
        return "teacher" if caller.teacher else caller.name

    async def scenario():
        guesses = [await status("10.0.0.9", f"teacher{i}") for i in range(10)]
        return guesses, [await status("10.0.0.9", ADMIN_TOKEN), await status("10.0.0.9", "hub-token-of-ann"),
                         await status("10.0.0.7", ADMIN_TOKEN)]

    guesses, after = asyncio.run(scenario())
    assert guesses == [401] * 10
    assert after == [401, "ann", "teacher"]


def test_the_admin_cookie_lasts_twelve_hours_at_most(tmp_path):
    with classroom(tmp_path, "http://upstream.invalid/v1") as room:
        r = HTTP.post(room.gw.root + "/admin/login", data={"token": ADMIN_TOKEN}, timeout=30)
        assert r.status_code == 303 and "frame-ancestors 'none'" in r.headers["content-security-policy"]
        cookie = r.headers["set-cookie"]
        max_age = int(cookie.lower().split("max-age=")[1].split(";")[0])
        assert 0 < max_age <= 12 * 3600 and "httponly" in cookie.lower()
        value = r.cookies["wisgate_gateway_admin"]
        assert httpx.get(room.gw.root + "/admin/", cookies={"wisgate_gateway_admin": value}).status_code == 200
    auth = Authenticator(settings_for(tmp_path, "http://upstream.invalid/v1"), None)
    issued = time.time()
    cookie = auth.admin_session(issued)
    assert auth.valid_session(cookie, issued + ADMIN_SESSION_S - 1)
    assert not auth.valid_session(cookie, issued + ADMIN_SESSION_S + 1)  # the server forgets it too
    forged = cookie[:-1] + ("1" if cookie.endswith("0") else "0")  # one character of the MAC changed
    assert not auth.valid_session(forged, issued) and not auth.valid_session("1.2", issued)


# -- 5. slow clients ------------------------------------------------------------------------------------

def test_headers_and_bodies_that_trickle_in_are_cut_off(tmp_path):
    assert deadline.HEADER_TIMEOUT_S == 30 and intake.BODY_TIMEOUT_S == 30  # the defaults, in every server:
    assert import_from_string(PROTOCOL) is deadline.HeaderDeadline and deadline.HeaderDeadline.timeout == 30
    (tmp_path / "gateway.toml").write_text("", encoding="utf-8")
    with serve_gateway(settings_for(tmp_path, "http://upstream.invalid/v1"), deadlines=(0.5, 0.5)) as gw:
        started = time.monotonic()
        with socket.create_connection(("127.0.0.1", gw.port), timeout=SLOW_CLIENT_S) as slow:
            slow.sendall(b"POST /v1/images/generations HTTP/1.1\r\nHost: x\r\n")
            closed = b""
            slow.settimeout(0.01)
            while time.monotonic() - started < SLOW_CLIENT_S:
                try:
                    slow.sendall(b"X-A: b\r\n")  # one header line at a time, never the blank line
                    time.sleep(0.1)
                    if slow.recv(100) == b"":
                        closed = b"closed"
                        break
                except TimeoutError:
                    pass
                except OSError:
                    closed = b"reset"
                    break
        assert closed, "a request whose headers never end stayed open"
        token = add_student(gw.gateway.ledger.engine, "slow")[0]
        started = time.monotonic()
        with socket.create_connection(("127.0.0.1", gw.port), timeout=SLOW_CLIENT_S) as slow:
            slow.sendall(f"POST /v1/images/generations HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
                         .encode() +
                         b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"pro")
            answer = b""
            while chunk := slow.recv(4096):  # the headers and the body may come in separate packets
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 408") and b"within 0.5 s" in answer, answer[:400]
        assert time.monotonic() - started < SLOW_CLIENT_S


# -- 6. anything at all, from students and from the upstream ------------------------------------------

FIELDS = ("prompt", "model", "size", "quality", "n", "background", "output_format", "moderation", "stream",
          "partial_images", "output_compression", "response_format", "user")
values = st.one_of(st.text(max_size=30), st.integers(-5, 20), st.none(), st.booleans(), st.floats(allow_nan=False),
                   st.binary(max_size=20).map(lambda b: b.decode("latin-1")), st.just("\ud800"), st.just("\x00"),
                   st.just("\u00b2"))
upstream_texts = st.one_of(st.text(max_size=40), st.just("\x00"), st.just("\ud800"),
                           st.binary(max_size=30).map(lambda b: b.decode("latin-1")))


@st.composite
def upstream_answers(draw) -> Callable[[str], Answer]:
    status = draw(st.sampled_from([200, 200, 201, 204, 302, 400, 401, 404, 429, 500, 502, 503]))
    kind = draw(st.sampled_from(["json", "stream", "bytes"]))
    text, where, breaks = draw(upstream_texts), draw(st.sampled_from(["body", "escaped", "header", "none"])), \
        draw(st.booleans())
    cut = draw(st.integers(1, 64))
    raw = draw(st.binary(max_size=40))

    def answer(key: str) -> Answer:
        echo = {"body": key, "escaped": escaped(key), "header": "", "none": ""}[where]
        headers = [(b"x-request-id", key.encode() if where == "header" else b"req_1")]
        if kind == "json":
            doc = json.dumps({"data": [{"b64_json": "AA", "revised_prompt": text}], "error": {"message": text}})
            body = doc.replace('"AA"', f'"AA", "echo": "{echo}"').encode()
            headers.append((b"content-type", b"application/json"))
        elif kind == "stream":
            event = json.dumps({"type": "error", "error": {"message": text + echo}})
            body = (f"event: image_generation.completed\ndata: {{\"note\": \"{echo}\"}}\n\n"
                    f"event: error\ndata: {event}\n\n").encode()
            headers.append((b"content-type", b"text/event-stream"))
        else:
            body = raw + echo.encode() + raw
        return status, headers, _chunks(body, cut), breaks

    answer.status = status  # type: ignore[attr-defined]
    return answer


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(route=st.sampled_from(["json", "edits json", "form"]),
       fields=st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), values, max_size=6),
       answer=upstream_answers())
def test_anything_from_students_and_upstreams(sqlite_room, route, fields, answer):
    room = sqlite_room
    room.fake.answer = answer
    with debug_logs() as logs:
        try:
            if route != "form":
                r = post_json(room, json.dumps(fields).encode(), GENERATE if route == "json" else EDIT)
            else:
                form = {k: (v if isinstance(v, str) else json.dumps(v)).encode("utf-8", "surrogatepass")
                        for k, v in fields.items()}
                r = post_form(room, form)
        except httpx.RemoteProtocolError:  # the upstream broke a JSON answer off: so does the gateway
            texts = []
        else:
            assert r.status_code != 500 or answer.status == 500, r.text  # the upstream's own 500 is passed on
            assert "gateway_error" not in r.text, r.text
            texts = [r.content.decode("latin-1"), *(f"{k}: {v}" for k, v in r.headers.multi_items())]
    assert books(room) == {"in_flight": 0, "reserved": 0}
    assert_no_key(*texts, *logs, *rows(room))


# -- 7. the demo server ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def demo():
    with serve(EmulatorConfig()) as handle:
        yield handle


def test_the_demo_server_refuses_a_body_over_50_mb_before_reading_it(demo):
    with socket.create_connection(("127.0.0.1", demo.port), timeout=SLOW_CLIENT_S) as client:
        client.sendall(b"POST /v1/images/generations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                       b"Content-Length: 60000000\r\n\r\n{\"prompt\": \"")
        answer = client.recv(4096)  # answered while 59.99 MB are still to come
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]

    def body():
        chunk = b"a" * 2**20
        yield b'{"prompt": "'
        for _ in range(51):
            yield chunk
        yield b'"}'

    r = HTTP.post(demo.base_url + GENERATE, content=body(), headers={"content-type": "application/json"}, timeout=60)
    assert r.status_code == 413 and r.json()["error"]["code"] == "request_too_large"

    def upload():  # a multipart edit whose image grows past the limit as it arrives
        yield b'--xx\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\n\r\n'
        yield from body()
        yield b"\r\n--xx--\r\n"

    r = HTTP.post(demo.base_url + EDIT, content=upload(), headers={"content-type": "multipart/form-data; boundary=xx"},
                   timeout=60)
    assert r.status_code == 413 and r.json()["error"]["code"] == "request_too_large"


@pytest.mark.parametrize("field", ["size", "quality", "background", "output_format", "moderation", "prompt",
                                   "model"])
def test_the_demo_server_refuses_bad_text_in_each_field(demo, field):
    for bad in ("\\ud800", "\\u0000"):
        body = {"prompt": "a fox", field: "PLACE"}
        raw = json.dumps(body).replace("PLACE", f"x{bad}").encode()
        r = HTTP.post(demo.base_url + GENERATE, content=raw, headers={"content-type": "application/json"})
        assert r.status_code == 400 and r.json()["error"]["param"] == field, r.text


def test_json_nested_deeper_than_pythons_stack_is_no_server_error(demo, sqlite_room):
    deep = b'{"prompt": "a fox", "size": "256x256", "user": ' + b"[" * 950 + b"]" * 950 + b"}"
    for url in (demo.base_url, sqlite_room.gw.base_url):
        for body in (b"[" * 100_000, deep):
            r = HTTP.post(url + GENERATE, content=body, timeout=30,
                           headers={"content-type": "application/json", **bearer(sqlite_room.token)})
            assert r.status_code in (200, 400), (url, r.status_code, r.text[:200])


def test_the_demo_server_reads_form_numbers_in_ascii_digits_only(demo):
    image = {"image": ("in.png", image_bytes((64, 64)), "image/png")}
    for digit in ("\u0661", "\u00b2", "\uff11"):  # int() would read the first and the last as 1
        r = HTTP.post(demo.base_url + EDIT, data={"prompt": "a fox", "n": digit}, files=image, timeout=30)
        assert r.status_code == 400 and r.json()["error"]["param"] == "n", r.text
    ok = HTTP.post(demo.base_url + EDIT, data={"prompt": "a fox", "n": "1", "size": "256x256"}, files=image,
                    timeout=30)
    assert ok.status_code == 200, ok.text


def test_the_demo_server_builds_urls_from_its_own_address_not_the_host_header(demo):
    r = HTTP.post(demo.base_url + GENERATE, json={"prompt": "a fox", "size": "256x256", "response_format": "url"},
                   headers={"host": "evil.example:666"})
    assert r.status_code == 200
    url = r.json()["data"][0]["url"]
    assert url.startswith(f"http://127.0.0.1:{demo.port}/v1/demo-files/"), url
    assert HTTP.get(url).status_code == 200
