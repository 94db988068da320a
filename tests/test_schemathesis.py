"""Schemathesis against the demo server and the classroom gateway, from the OpenAI images API schema.

Valid and invalid requests generated from ``fixtures/openai-images-openapi.yaml`` for both image
routes (JSON and multipart): never a server error; through the gateway also never the key in an
answer and never a reservation left. A bounded number of examples keeps it to seconds; the tool's
own runs (about 33,000 requests) are what issue 23 reports.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from conftest import TEST_KEY
from gateway_helpers import bearer, classroom
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from sqlalchemy import func, select

from wisgate_nb.emulator import EmulatorConfig, serve
from wisgate_nb.gateway import db

SCHEMA = schemathesis.openapi.from_path(Path(__file__).parent / "fixtures" / "openai-images-openapi.yaml")
EXAMPLES = 30  # per route, mode and server: 240 requests in all
ROUTES = ["/images/generations", "/images/edits"]
MODES = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]


def _small(case) -> None:
    """Keep the demo server's drawing cheap: at most 2 images and no size above 256 px of a valid request."""
    if isinstance(case.body, dict):
        if isinstance(case.body.get("n"), int) and not isinstance(case.body["n"], bool) and case.body["n"] > 2:
            case.body["n"] = 2
        if case.body.get("size") not in (None, "auto") and isinstance(case.body.get("size"), str) and \
                "x" in case.body["size"] and case.body["size"][0].isdigit():
            case.body["size"] = "256x256"


def _fuzz(route: str, mode: GenerationMode, call) -> None:
    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(case=SCHEMA[route]["POST"].as_strategy(generation_mode=mode))
    def run(case):
        _small(case)
        call(case)

    run()


@pytest.fixture(scope="module")
def demo():
    with serve(EmulatorConfig(latency=0.0)) as handle:
        yield handle


@pytest.mark.parametrize("mode", MODES, ids=lambda m: m.value)
@pytest.mark.parametrize("route", ROUTES)
def test_the_demo_server_never_answers_a_server_error(demo, route, mode):
    def call(case):
        response = case.call(base_url=demo.base_url, timeout=60)
        assert response.status_code < 500, (case.body, response.text[:300])

    _fuzz(route, mode, call)


@pytest.fixture(scope="module")
def room(demo, tmp_path_factory):
    with serve(EmulatorConfig(require_key=TEST_KEY)) as upstream, \
            classroom(tmp_path_factory.mktemp("schemathesis"), upstream.base_url,
                      "[quota]\nimages_per_day = 100000\n") as room:
        room.token = room.student("fuzz")
        yield room


@pytest.mark.parametrize("mode", MODES, ids=lambda m: m.value)
@pytest.mark.parametrize("route", ROUTES)
def test_the_gateway_never_answers_a_server_error_nor_leaks_nor_holds(room, route, mode):
    def call(case):
        response = case.call(base_url=room.gw.base_url, headers=bearer(room.token), timeout=60)
        assert response.status_code < 500, (case.body, response.text[:300])
        assert TEST_KEY not in response.text and TEST_KEY not in str(response.headers)

    _fuzz(route, mode, call)
    with room.engine.connect() as conn:
        assert conn.execute(select(func.coalesce(func.sum(db.state.c.in_flight), 0))).scalar() == 0
        assert conn.execute(select(func.count()).select_from(db.requests)
                            .where(db.requests.c.outcome == "reserved")).scalar() == 0
