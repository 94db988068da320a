"""Table tests of a session's clients (core/clients.py): one client per target, made once for its settings and
again when one changes, one rate-limit pacer per base URL, one connection pool — written so that mutation
testing (README, "Mutation testing"; tools/mutation.sh) finds no change these tests miss.

No socket: the clients are built, not used, except the in-process demo server's, reached through its transport.
"""

from __future__ import annotations

import asyncio
import dataclasses

import httpx
import pytest

from wisgate_nb._secret import Secret
from wisgate_nb.core.clients import Clients
from wisgate_nb.core.targets import DEMO_BASE_URL, Target
from wisgate_nb.http.chat import ChatClient
from wisgate_nb.http.client import LIMITS, ImagesClient

KEY = "sk-client-tables-0123456789abcdef"
REAL = Target("https://api.example/v1", Secret(KEY), False, 30.0, 3, rate_limit_wait=60.0)
DEMO = Target(DEMO_BASE_URL, None, True, 30.0, 2, demo_latency=0.0)


def test_a_client_is_made_for_its_target_s_settings():
    clients = Clients()
    client = clients.get(REAL)
    assert type(client) is ImagesClient
    assert (client.base_url, client._api_key.get(), client.timeout, client.max_retries, client.rate_limit_wait,
            client.streaming) == ("https://api.example/v1", KEY, 30.0, 3, 60.0, True)
    assert client._client is clients.pool and isinstance(clients.pool, httpx.AsyncClient)
    assert clients.pool._transport._pool._max_connections == LIMITS.max_connections
    assert clients.constructed == 1


def test_the_same_target_gets_the_same_client_and_one_pool():
    clients = Clients()
    first = clients.get(REAL)
    assert clients.get(dataclasses.replace(REAL)) is first  # equal settings, another Target object
    assert clients.get(dataclasses.replace(REAL, api_key=Secret(KEY))) is first  # the key compares by value
    assert clients.constructed == 1
    other = clients.get(dataclasses.replace(REAL, base_url="https://other.example/v1"))
    assert other is not first and other._client is first._client  # another endpoint, the same pool
    assert clients.constructed == 2


@pytest.mark.parametrize("change", [
    {"api_key": Secret("sk-another-key-0123456789abcdef")}, {"timeout": 5.0}, {"max_retries": 0},
    {"rate_limit_wait": 1.0},
])
def test_a_changed_setting_makes_a_new_client_in_the_old_one_s_place(change):
    clients = Clients()
    old = clients.get(REAL)
    new = clients.get(dataclasses.replace(REAL, **change))
    assert new is not old and clients.constructed == 2
    assert clients.get(dataclasses.replace(REAL, **change)) is new  # kept
    assert clients.get(REAL) is not old  # the old one was let go: back to the old settings makes another
    assert clients.constructed == 3
    assert "2 in use" not in repr(clients) and repr(clients) == "<Clients 1 in use, 3 made>"


def test_an_endpoint_that_did_not_stream_gets_a_client_that_does_not_ask_to():
    clients = Clients()
    streaming = clients.get(REAL)
    clients.no_stream[REAL.base_url] = "the server answered a stream with JSON"
    plain = clients.get(REAL)
    assert plain is not streaming and (streaming.streaming, plain.streaming) == (True, False)
    assert clients.get(dataclasses.replace(REAL, base_url="https://other.example/v1")).streaming is True


def test_each_base_url_keeps_one_pacer_whatever_its_clients():
    clients = Clients()
    images, chat = clients.get(REAL), clients.get(REAL, ChatClient)
    assert type(chat) is ChatClient and chat is not images and clients.get(REAL, ChatClient) is chat
    retried = clients.get(dataclasses.replace(REAL, max_retries=5))
    assert images.pacer is chat.pacer is retried.pacer
    assert clients.get(dataclasses.replace(REAL, base_url="https://other.example/v1")).pacer is not images.pacer


def test_a_demo_target_reaches_the_in_process_server_at_its_latency():
    clients = Clients()
    client = clients.get(dataclasses.replace(DEMO, demo_latency=0.25))
    app, demo_pool = clients._demo
    assert client._client is demo_pool and clients.pool is None  # no real pool made for the demo
    assert client._api_key is None and client.base_url == DEMO_BASE_URL
    assert app.state.emulator.config.latency == 0.25
    assert clients.get(DEMO) is client  # another latency: the same client, the server set to it
    assert clients._demo[0] is app and app.state.emulator.config.latency == 0.0
    response = asyncio.run(clients.get(DEMO).generate({"model": "gpt-image-1", "prompt": "a fox", "size": "256x256"}))
    assert len(response.images) == 1 and response.images[0].width == 256


def test_a_demo_and_a_real_target_at_one_url_are_two_clients():
    clients = Clients()
    real = clients.get(dataclasses.replace(REAL, base_url=DEMO_BASE_URL))
    demo = clients.get(DEMO)
    assert real is not demo and real._client is clients.pool and demo._client is clients._demo[1]


def test_release_gives_back_the_pools_and_forgets_every_client():
    clients = Clients()
    assert clients.release() == []
    real, demo = clients.get(REAL), clients.get(DEMO)
    pools = clients.release()
    assert pools == [real._client, demo._client]
    assert clients.pool is None and clients._demo is None and repr(clients) == "<Clients 0 in use, 2 made>"
    again = clients.get(REAL)
    assert again is not real and again._client is clients.pool and clients.pool is not real._client
    assert clients.release() == [again._client]


def test_the_repr_never_shows_the_key():
    clients = Clients()
    clients.get(REAL)
    assert KEY not in repr(clients) and KEY[-4:] not in repr(clients)
