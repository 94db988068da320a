"""One attempt of the client's send loop: what it learned (Progress), what it got (Raw), and the reading
of an event stream of partial images. Used by ``client.py`` only.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from httpx_sse import EventSource, SSEError

from .. import errors
from .._version import __version__
from . import wire
from .bodies import capped_bytes, read_body
from .checks import safe_url
from .images import b64decode, decode_image
from .messages import mask_secret, scrub

logger = logging.getLogger("wisgate_nb.http.client")  # the client's log: one place to look

USER_AGENT = f"wisgate-nb/{__version__} httpx/{httpx.__version__}"


@dataclass
class Progress:
    """What one attempt learned so far: decides whether it may be retried and how long to wait."""

    events: int = 0  # server-sent events of any kind: a stream that delivered one is never replayed
    images: int = 0  # partial or completed image events
    headers: Mapping[str, str] | None = None
    request_id: str | None = None
    request_id_header: str | None = None
    status: int | None = None

    def word(self, exc: BaseException | None = None) -> str:
        """This attempt in the history's attempt_statuses: its HTTP status, else what went wrong."""
        if self.status is not None:
            return str(self.status)
        return "timeout" if isinstance(exc, errors.APITimeoutError) else "connection"

    def ids(self) -> dict:
        return {"request_id": self.request_id, "request_id_header": self.request_id_header}


@dataclass
class Raw:
    """An answer that holds images, before they are fetched and decoded."""

    items: list[dict]
    top: dict
    request_id: str | None
    streamed: bool
    request_id_header: str | None = None


async def consume_events(response: httpx.Response, on_partial, progress: Progress, *, max_body_bytes: int,
                         max_pixels: int, secret: str | None) -> Raw:
    """Read an event stream: partial images go to ``on_partial`` as they come; the completed events are kept."""
    capped = httpx.Response(response.status_code, request=response.request,
                            headers=[(k, v) for k, v in response.headers.multi_items()
                                     if k.lower() not in ("content-encoding", "content-length")],
                            content=capped_bytes(response, max_body_bytes))
    completed: list[dict] = []
    async for sse in EventSource(capped).aiter_sse():
        event = wire.event_json(sse.data)
        if event is None:
            continue
        progress.events += 1
        kind = str(event.get("type") or sse.event or "")
        if sse.event == "error" or kind == "error" or event.get("error"):
            raise wire.stream_error(event, response.headers, secret)
        progress.images += 1
        if kind.endswith("partial_image") and on_partial is not None:
            blob = decode_image(b64decode(str(event.get("b64_json") or "")), max_pixels=max_pixels)
            index = event.get("partial_image_index")
            await call_safely(on_partial, index if isinstance(index, int) else progress.events - 1, blob)
        elif kind.endswith("completed"):
            completed.append(event)
    if not completed:
        raise errors.ResponseFormatError("the stream ended without a completed image")
    top = {k: v for k, v in completed[-1].items() if k not in ("type", "b64_json", "url", "revised_prompt")}
    top.setdefault("created", top.pop("created_at", None))
    return Raw(scrub(wire.check_items(completed, progress.request_id), secret), scrub(top, secret),
               progress.request_id, True, progress.request_id_header)


def without_stream(content: dict) -> dict:
    """The same request, asking for the final images only (JSON body or multipart fields)."""
    key = "json" if "json" in content else "data"
    return {**content, key: {k: v for k, v in content[key].items() if k not in ("stream", "partial_images")}}


async def call_safely(callback, *args: Any) -> None:
    """Call a user callback (sync or async); its failure is logged, never breaks the request."""
    if callback is None:
        return
    try:
        result = callback(*args)
        if inspect.isawaitable(result):
            await result
    except Exception:
        logger.warning("a wisgate_nb callback raised; the request goes on", exc_info=True)


@contextlib.contextmanager
def translate_errors(client, progress: Progress):
    """The one place where httpx (and httpx-sse) exceptions become wisgate_nb errors (``client`` says
    the timeout and the key to mask)."""
    try:
        yield
    except (errors.ResponseFormatError, errors.APIStatusError) as exc:
        if exc.request_id is None:
            exc.request_id, exc.request_id_header = progress.request_id, progress.request_id_header
        raise
    except httpx.TimeoutException as exc:
        raise errors.APITimeoutError(f"no answer within {client.timeout:g} s ({type(exc).__name__})",
                                     **progress.ids()) from exc
    except TimeoutError as exc:  # the attempt's own deadline: a trickle or a stream of keep-alives
        raise errors.APITimeoutError(f"no answer within {client.timeout:g} s (timeout bounds the whole answer)",
                                     **progress.ids()) from exc
    except (httpx.TransportError, httpx.TooManyRedirects) as exc:
        detail = mask_secret(str(exc), client._key())[:200] or type(exc).__name__
        raise errors.APIConnectionError(f"connection failed: {detail}", **progress.ids()) from exc
    except (httpx.DecodingError, SSEError) as exc:
        raise errors.ResponseFormatError(f"the response cannot be decoded: {type(exc).__name__}",
                                         **progress.ids()) from exc


async def fetch_url(http: httpx.AsyncClient, item: dict, timeout, max_body_bytes: int) -> bytes:
    """The bytes of an image answered as a URL (http or https only)."""
    try:
        url = httpx.URL(item["url"])
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise errors.ResponseFormatError("an image URL is malformed") from exc
    if url.scheme not in ("http", "https") or not url.host:
        raise errors.ResponseFormatError(f"an image URL has scheme {url.scheme!r}: only http and https are fetched")
    # No Authorization header here: the key is for the API, never for a storage host.
    async with http.stream("GET", url, headers={"User-Agent": USER_AGENT}, timeout=timeout,
                           follow_redirects=True) as response:
        logger.debug("GET %s -> HTTP %d", safe_url(str(url)), response.status_code)
        if not 200 <= response.status_code < 300:
            raise errors.ResponseFormatError(f"the image URL answered HTTP {response.status_code}")
        return await read_body(response, max_body_bytes)
