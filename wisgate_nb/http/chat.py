"""``POST /chat/completions`` for the judge that grades images: the images client's send loop (retries,
error mapping, key hygiene, and whatever paces it), with a chat body instead of an images body.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from .. import errors
from .attempt import Progress, Raw
from .client import ImagesClient
from .messages import mask_secret
from .wire import loads

logger = logging.getLogger("wisgate_nb.http.client")
PATH = "/chat/completions"


@dataclass(frozen=True)
class ChatResponse:
    """The judge's answer: the text of its first choice, its usage, and how the request went."""

    content: str
    usage: dict | None
    request_id: str | None
    attempts: int
    attempt_statuses: tuple[str, ...]
    model: str | None = None


def chat_content(body: bytes, request_id: str | None, secret: str | None) -> tuple[str, dict]:
    """(the first choice's message text, the other top-level fields) of a 200 body; ResponseFormatError if none."""
    doc = loads(body)
    if not isinstance(doc, dict):
        raise errors.ResponseFormatError("the judge's answer is not a JSON object", request_id=request_id)
    if doc.get("error"):
        raise errors.ResponseFormatError(
            "the judge answered 200 with an error: " + mask_secret(json.dumps(doc["error"])[:300], secret),
            request_id=request_id)
    choices = doc.get("choices")
    message = choices[0].get("message") if isinstance(choices, list) and choices and isinstance(choices[0], dict) \
        else None
    content = message.get("content") if isinstance(message, dict) else None
    if isinstance(content, list):  # content parts: their text, in order
        content = "".join(p.get("text", "") for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
    if not isinstance(content, str):
        raise errors.ResponseFormatError("the judge's answer has no message text", request_id=request_id)
    return content, {k: v for k, v in doc.items() if k != "choices"}


class ChatClient(ImagesClient):
    """The images client, speaking to the chat endpoint (one JSON request, one JSON answer, no stream)."""

    events = False  # an event stream is no answer of a judge

    async def complete(self, body: dict, *, attempt_log: list[str] | None = None) -> ChatResponse:
        log = [] if attempt_log is None else attempt_log
        try:
            raw, _ = await self._send_with_retries(self.base_url + PATH, False, None, None, {"json": body}, log)
        except errors.WisGateError as exc:
            exc.attempts, exc.attempt_statuses = len(log), tuple(log)
            raise
        usage = raw.top.get("usage")
        return ChatResponse(raw.items[0]["content"], usage if isinstance(usage, dict) else None, raw.request_id,
                            len(log), tuple(log), raw.top.get("model"))

    def _answer(self, body: bytes, headers, progress: Progress) -> Raw:
        text, top = chat_content(body, progress.request_id, self._key())
        return Raw([{"content": text}], top, progress.request_id, False, progress.request_id_header)
