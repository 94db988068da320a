"""The judge through the gateway: ``POST /v1/chat/completions`` (``wisgate_nb.grade``), forwarded only where
``gateway.toml`` says ``allow_judge = true``, and counted as one request of the student, never as images.

A judge's answer is one JSON body: it is read whole (bounded), settled as ``ok`` with its tokens, then sent.
"""

from __future__ import annotations

import json

import httpx

from .relay import Forward, Outcome
from .upstream import UpstreamError, client_headers, error_body

__all__ = ["JUDGE_OFF", "ROUTE", "JudgeForward"]

ROUTE = "chat/completions"
MAX_ANSWER = 4 * 2**20  # a judge's answer is a few hundred bytes; anything past this is not one
JUDGE_OFF = ("This classroom gateway does not forward /v1/chat/completions, the judge that grades images "
             "(wisgate_nb.grade, experiment). Your teacher can allow it with allow_judge = true in gateway.toml.")


class JudgeForward(Forward):
    """Forward a judge's request; the reservation (no images) is settled once, however it ends."""

    async def _exchange(self, send, result: Outcome) -> None:
        try:
            response = await self.upstream.open(ROUTE, self.incoming.body, self.headers)
            if response.status_code >= 400:
                answer = await self.upstream.error_answer(response, self.rid)
                result.error_code, result.error, result.request_id = answer.code, answer.message, answer.request_id
                status, body, headers = answer.status, answer.body, answer.headers
            else:
                try:
                    body = self.upstream.scrubber.bytes(await _read_bounded(response))
                finally:
                    await response.aclose()
                status, headers = response.status_code, client_headers(response.headers, self.rid, self.upstream.scrubber)
                result.request_id = self.upstream.request_id(response, self.rid)
                result.total_tokens = _tokens(body)
        except UpstreamError as exc:
            result.error_code, result.error = exc.code, exc.message
            status, headers = exc.status, [(b"content-type", b"application/json"), (b"x-request-id", self.rid.encode())]
            body = json.dumps(error_body(exc.message, type="server_error", code=exc.code)).encode()
        except httpx.HTTPError:
            result.error_code, result.error = "upstream_broke_off", "the judge's answer broke off"
            status, headers = 502, [(b"content-type", b"application/json"), (b"x-request-id", self.rid.encode())]
            body = json.dumps(error_body("The judge's answer broke off; try again.", type="server_error")).encode()
        result.status = status
        result.outcome = "ok" if status < 400 else "error"
        await self._settle_once(result)
        headers = [h for h in headers if h[0] != b"content-length"] + [(b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body, "more_body": False})


async def _read_bounded(response: httpx.Response) -> bytes:
    body = bytearray()
    async for chunk in response.aiter_raw():
        body += chunk
        if len(body) > MAX_ANSWER:
            raise UpstreamError(502, "upstream_answer_too_large", "The judge's answer was too large to be one.")
    return bytes(body)


def _tokens(body: bytes) -> int | None:
    try:
        usage = json.loads(body).get("usage")
    except (ValueError, AttributeError, RecursionError):
        return None
    tokens = usage.get("total_tokens") if isinstance(usage, dict) else None
    return tokens if isinstance(tokens, int) and not isinstance(tokens, bool) else None
