"""The HTTP client of the images API: the only code in wisgate_nb that speaks HTTP.

One short async loop (``ImagesClient._send_with_retries``) does the I/O over one
``httpx.AsyncClient``; the rules it follows are pure functions in ``wire`` (retries, error
mapping, body parsing) and ``images`` (image checks), re-exported here. Low-level httpx
exceptions are translated in one place, ``attempt.translate_errors``; the rate-limit pacer's rules are
in ``pacer``, its waits here. The API key never
appears in a repr, a message or a log line.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from .. import errors
from ..options import check_edit_images, form_fields
from . import quota, wire
from .attempt import USER_AGENT, Progress, Raw, call_safely, consume_events, fetch_url, translate_errors, without_stream
from .bodies import read_body, read_error_body
from .checks import check_settings, safe_url
from .images import DEFAULT_MAX_PIXELS, ImageBlob, ImageInput, b64decode, decode_image, load_image_input
from .messages import mask_secret, request_id_from, scrub
from .pacer import Pacer, cost_of, images_asked, limit_kind, over_wait, wait_words
from .tls import tls_context
from .wire import error_from_response, parse_images_body, request_id_of, retry_delay, retryable_status

__all__ = ["ImageBlob", "ImageInput", "ImagesClient", "ImagesResponse", "check_settings", "decode_image",
           "error_from_response", "load_image_input", "parse_images_body", "request_id_of", "retry_delay",
           "retryable_status"]

logger = logging.getLogger(__name__)

LIMITS = httpx.Limits(max_connections=20, max_keepalive_connections=10)


@dataclass(frozen=True)
class ImagesResponse:
    """The result of one generations or edits request."""

    images: tuple[ImageBlob, ...]
    request_id: str | None
    usage: dict | None
    created: int | None
    meta: dict
    attempts: int
    streamed: bool
    attempt_statuses: tuple[str, ...] = ()  # one word per attempt: "500", "200", "timeout", ...
    request_id_header: str | None = None  # where the request id came from
    stream_fallback: str | None = None  # why a streamed request's images came without streaming


REMEMBERED = "an earlier streamed request to this endpoint did not stream"


class ImagesClient:
    """Async client of ``POST /images/generations`` and ``/images/edits`` with retries."""

    events = True  # an event stream answers (partial images)

    def __init__(self, *, base_url: str, api_key: str | None = None, timeout: float = 120.0,
                 max_retries: int = 2, http_client: httpx.AsyncClient | None = None,
                 max_body_bytes: int = 100 * 2**20, max_pixels: int = DEFAULT_MAX_PIXELS,
                 sleep: Callable[[float], Any] = asyncio.sleep, streaming: bool = True,
                 pacer: Pacer | None = None, rate_limit_wait: float = 600.0,
                 clock: Callable[[], float] = time.monotonic):
        self.base_url, self._api_key = check_settings(base_url, api_key, timeout, max_retries)
        self.streaming = streaming  # False: this endpoint is known not to stream; ask for the final images
        self.timeout = float(timeout)
        self.max_retries = max_retries
        self.max_body_bytes = max_body_bytes
        self.max_pixels = max_pixels
        self._timeout = httpx.Timeout(self.timeout, connect=min(10.0, self.timeout))
        self._client = http_client
        self._owns_client = http_client is None
        self._sleep = sleep
        self.pacer = pacer or Pacer()  # the session shares one per endpoint
        self.rate_limit_wait = float(rate_limit_wait)
        self._clock = clock

    def __repr__(self) -> str:
        key = "'***'" if self._api_key else "None"
        return (f"ImagesClient(base_url={safe_url(self.base_url)!r}, api_key={key}, "
                f"timeout={self.timeout:g}, max_retries={self.max_retries})")

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self._timeout, limits=LIMITS, verify=tls_context())
        return self._client

    async def aclose(self) -> None:
        """Close the connection pool, if this client created it."""
        if self._owns_client and self._client is not None:
            client, self._client = self._client, None
            await client.aclose()

    async def check(self) -> str:
        """Whether the endpoint answers ``GET /models``, in words, for %wisgate_doctor; sends no image request.

        An HTTP error is described, not raised; a connection failure raises APIConnectionError.
        """
        url, started = self.base_url + "/models", time.perf_counter()
        with translate_errors(self, Progress()):
            async with self._http().stream("GET", url, headers=self._headers(False),
                                           timeout=httpx.Timeout(min(10.0, self.timeout))) as response:
                rid = request_id_of(response.headers)
                logger.debug("GET %s -> HTTP %d (request id %s)", safe_url(url), response.status_code, rid)
                await read_error_body(response)  # the list itself does not matter, only that it came
        status, suffix = response.status_code, f" (request id {rid})" if rid else ""
        if status == 401:
            return f"it answers, but refuses the key: HTTP 401{suffix}"
        if status >= 400:
            return f"it answers HTTP {status} to GET /models{suffix} (image requests may still work)"
        return f"yes: HTTP {status} in {(time.perf_counter() - started) * 1000:.0f} ms{suffix}"

    async def quota(self):
        """A classroom gateway's ``GET /quota`` (images left today), or None; never raises."""
        try:
            response = await self._http().get(quota.quota_url(self.base_url), headers=self._headers(False),
                                              timeout=quota.QUOTA_TIMEOUT_S)
            return quota.from_response(response)
        except Exception as exc:  # a status line, not a request that matters
            logger.debug("quota not available: %s", type(exc).__name__)
            return None

    async def generate(self, payload: dict, *, on_partial=None, on_status=None,
                       attempt_log: list[str] | None = None) -> ImagesResponse:
        """``POST /images/generations`` with the JSON ``payload`` (from ``options.build_generation_payload``).

        ``attempt_log`` (a list) receives one word per attempt as it ends, whatever the outcome.
        """
        body = {key: value for key, value in payload.items() if value is not None}
        try:
            json.dumps(body, allow_nan=False)
        except (TypeError, ValueError) as exc:  # an unknown extra option that JSON cannot carry
            raise errors.ConfigurationError(f"the options cannot be sent as JSON: {exc}") from exc
        return await self._run("/images/generations", body.get("stream") is True, on_partial, on_status,
                               {"json": body}, attempt_log)

    async def edit(self, body: dict, images: list[tuple[str, bytes, str]],
                   mask: tuple[str, bytes, str] | None = None, *, on_partial=None,
                   on_status=None, attempt_log: list[str] | None = None) -> ImagesResponse:
        """``POST /images/edits`` as multipart: ``body``'s fields (from ``options.build_generation_payload``, encoded
        by ``options.form_fields``), ``image`` (one) or ``image[]`` (several), ``mask``."""
        check_edit_images(len(images), has_mask=mask is not None)
        part = "image" if len(images) == 1 else "image[]"
        files = [(part, tuple(image)) for image in images]
        if mask is not None:
            files.append(("mask", tuple(mask)))
        data = form_fields(body)
        stream = data.get("stream", "").lower() == "true"
        return await self._run("/images/edits", stream, on_partial, on_status, {"data": data, "files": files},
                               attempt_log)

    async def _run(self, path: str, stream: bool, on_partial, on_status, content: dict,
                   log: list[str] | None) -> ImagesResponse:
        log = [] if log is None else log
        try:
            raw, fallback = await self._send_with_retries(self.base_url + path, stream, on_partial, on_status,
                                                          content, log)
            wire.check_count(raw.items, images_asked(content), raw.request_id)  # before any is decoded
            async def checked(item: dict) -> ImageBlob:
                with translate_errors(self, Progress(request_id=raw.request_id,
                                                      request_id_header=raw.request_id_header)):
                    # base64 and the image's decoding take tens of ms: off the loop, all images at once.
                    b64 = item.get("b64_json") if isinstance(item.get("b64_json"), str) else None
                    data = None if b64 else await fetch_url(self._http(), item, self._timeout, self.max_body_bytes)
                    return await asyncio.to_thread(lambda: decode_image(
                        b64decode(b64) if b64 else data, max_pixels=self.max_pixels,
                        revised_prompt=item.get("revised_prompt")))

            images = await asyncio.gather(*(checked(item) for item in raw.items))
        except errors.WisGateError as exc:  # every outcome says how many attempts it took, and how each went
            exc.attempts, exc.attempt_statuses = len(log), tuple(log)
            raise
        top = raw.top
        usage, created = top.get("usage"), top.get("created")
        return ImagesResponse(
            images=tuple(images), request_id=raw.request_id,
            usage=usage if isinstance(usage, dict) else None,
            created=int(created) if isinstance(created, int) and not isinstance(created, bool) else None,
            meta={key: value for key, value in top.items() if key not in ("usage", "created")},
            attempts=len(log), streamed=raw.streamed, attempt_statuses=tuple(log),
            request_id_header=raw.request_id_header, stream_fallback=fallback)

    async def _send_with_retries(self, url, stream, on_partial, on_status, content,
                                 log: list[str]) -> tuple[Raw, str | None]:
        """(the answer, why it came without streaming if a stream was asked for and none came)."""
        retries, fallback, waited, refused = 0, None, 0.0, None
        if stream and not self.streaming:
            stream, content, fallback = False, without_stream(content), REMEMBERED
        cost = cost_of(images_asked(content))
        while True:
            ticket, waited = await self._pace(cost, on_status, waited, refused)
            progress = Progress()
            try:
                with translate_errors(self, progress):
                    async with asyncio.timeout(self.timeout):  # the whole attempt, not each read
                        raw = await self._send_once(url, stream, on_partial, progress, len(log) + 1, content)
            except asyncio.CancelledError:
                self.pacer.finished(ticket, self._clock(), progress.headers)
                log.append("cancelled")
                raise
            except (errors.APIConnectionError, errors.APIStatusError, errors.ResponseFormatError) as exc:
                log.append(progress.word(exc))
                kind = limit_kind(exc) if not progress.events else None
                self.pacer.finished(ticket, self._clock(), progress.headers, kind or "other",
                                    getattr(exc, "message", None))
                if kind is not None:  # a rate limit is waited out (in _pace); it uses up no retry
                    refused = exc
                    continue
                # A stream that failed before any image is asked for once without streaming (a proxy
                # that cannot pass streams through); one that delivered an event is never replayed.
                reason = (wire.stream_fallback_reason(exc, events=progress.events)
                          if stream and not progress.images else None)
                if reason is not None:
                    stream, content, fallback = False, without_stream(content), reason
                    logger.debug("%s: %s; asking once without streaming", safe_url(url), reason)
                    await call_safely(on_status, f"{reason}: asking once more, without streaming")
                    continue
                if retries >= self.max_retries or progress.events or not wire.is_retryable(exc):
                    raise
                delay = retry_delay(retries, progress.headers, message=getattr(exc, "message", None))
                retries, words = retries + 1, wire.retry_words(exc, delay, retries + 1, self.max_retries)
                logger.debug("retrying %s: %s", safe_url(url), words)
                await call_safely(on_status, words)
                await self._sleep(delay)
                continue
            self.pacer.finished(ticket, self._clock(), progress.headers, "ok")
            log.append(progress.word())
            if stream and not raw.streamed:
                fallback = "the endpoint answered without streaming"
            return raw, fallback

    async def _pace(self, cost: dict, on_status, waited: float, refused: errors.APIStatusError | None):
        """Wait until the endpoint's pacer lets this request go: (its ticket, seconds waited so far);
        RateLimitError once the wait would pass ``rate_limit_wait`` (with the last 429, if there was one)."""
        said = None
        while True:
            now = self._clock()
            wait = self.pacer.wait_for(cost, now)
            if wait == 0:
                if said is not None:  # the live line should not go on saying it waits
                    await call_safely(on_status, f"sent after {max(1, round(waited))} s waiting for the rate limit")
                return self.pacer.started(cost, now), waited
            left = self.rate_limit_wait - waited
            if (wait or 0) > left or left <= 0:
                raise over_wait(wait, self.rate_limit_wait, refused)
            words = wait_words(wait)
            if words != said:
                said = words
                logger.debug("%s", words)
                await call_safely(on_status, words)
            await self.pacer.changed(self._sleep(min(wait, left) if wait is not None else left))
            waited += self._clock() - now

    async def _send_once(self, url, stream, on_partial, progress: Progress, attempt: int, content) -> Raw:
        logger.debug("POST %s (attempt %d)", safe_url(url), attempt)
        async with self._http().stream("POST", url, headers=self._headers(stream), timeout=self._timeout,
                                       **content) as response:
            progress.headers, progress.status = response.headers, response.status_code
            rid, progress.request_id_header = request_id_from(response.headers)
            progress.request_id = mask_secret(rid, self._key()) if rid else rid  # a server may echo the key
            logger.debug("POST %s -> HTTP %d (request id %s, attempt %d)", safe_url(url),
                         response.status_code, progress.request_id, attempt)
            if not 200 <= response.status_code < 300:
                body = await read_error_body(response)
                raise error_from_response(response.status_code, body, response.headers, redact=self._key())
            if self.events and "text/event-stream" in response.headers.get("content-type", ""):  # even unasked
                return await consume_events(response, on_partial, progress, max_body_bytes=self.max_body_bytes,
                                            max_pixels=self.max_pixels, secret=self._key())
            body = await read_body(response, self.max_body_bytes)
        return self._answer(body, response.headers, progress)

    def _answer(self, body: bytes, headers, progress: Progress) -> Raw:
        """A 200 JSON body as the send loop's answer (the images; the judge's client reads a chat answer)."""
        items, top = parse_images_body(body, headers, redact=self._key())
        return Raw(scrub(items, self._key()), scrub(top, self._key()), progress.request_id, False,
                   progress.request_id_header)

    def _headers(self, stream: bool) -> dict[str, str]:
        headers = {"Accept": "text/event-stream" if stream else "application/json", "User-Agent": USER_AGENT}
        if self._api_key is not None:
            headers["Authorization"] = f"Bearer {self._api_key.get()}"
        return headers

    def _key(self) -> str | None:
        return self._api_key.get() if self._api_key else None

