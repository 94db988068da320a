"""The judge's request and answer, as pure functions: the chat body that carries one image and a rubric,
and the strict reading of the JSON ``{"score": 1-5, "pass": bool, "reason": "..."}`` it must answer.

An answer that is not exactly that (after an optional ```json fence) is a failure with a reason, never a
guessed score.
"""

from __future__ import annotations

import base64
import json
import re

from ..errors import ConfigurationError

MAX_RUBRIC_CHARS = 4000
INSTRUCTIONS = (
    "You grade one image against a rubric. Look at the image, then answer with a JSON object only, no other "
    'text: {"score": <integer 1-5, 5 = fully meets the rubric>, "pass": <true if it meets the rubric, else '
    'false>, "reason": "<one sentence: what matches and what is missing>"}.'
)
_FENCE = re.compile(r"^```(?:json|JSON)?\s*\n?(.*?)\n?\s*```$", re.DOTALL)
_MIMES = {b"\x89PNG": "image/png", b"\xff\xd8\xff": "image/jpeg", b"RIFF": "image/webp", b"GIF8": "image/gif"}

LOWEST, HIGHEST = 1, 5  # the judge's scale of scores


class AnswerError(ValueError):
    """The judge's answer is not the JSON grade asked for."""


def check_rubric(rubric: object) -> str:
    """The rubric as sent: ConfigurationError before anything is sent when it is empty or too long."""
    if not isinstance(rubric, str) or not rubric.strip():
        raise ConfigurationError('a rubric is needed: grade(result, "a red fox in the snow, at night")')
    if len(rubric) > MAX_RUBRIC_CHARS:
        raise ConfigurationError(f"the rubric is {len(rubric)} characters; at most {MAX_RUBRIC_CHARS}")
    return rubric.strip()


def data_url(data: bytes) -> str:
    """A ``data:`` URL of an image file's bytes, as they are (its provenance included)."""
    mime = next((m for magic, m in _MIMES.items() if data.startswith(magic)), "application/octet-stream")
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def request_body(model: str, rubric: str, image: bytes) -> dict:
    """``POST /chat/completions``: the instructions, then the rubric as text and the image as a data URL."""
    return {
        "model": model,
        "messages": [
            {"role": "system", "content": INSTRUCTIONS},
            {"role": "user", "content": [
                {"type": "text", "text": f"Rubric: {rubric}"},
                {"type": "image_url", "image_url": {"url": data_url(image)}},
            ]},
        ],
        "response_format": {"type": "json_object"},
        "temperature": 0,
    }


def parse_answer(text: str) -> tuple[int, bool, str]:
    """(score, pass, reason) from the judge's text; AnswerError saying what is wrong otherwise."""
    stripped = text.strip()
    fenced = _FENCE.match(stripped)
    if fenced:
        stripped = fenced.group(1).strip()
    try:
        doc = json.loads(stripped)
    except ValueError:
        raise AnswerError(f"the judge did not answer JSON: {_quote(text)}") from None
    if not isinstance(doc, dict):
        raise AnswerError(f"the judge's JSON is not an object: {_quote(text)}")
    missing = [k for k in ("score", "pass", "reason") if k not in doc]
    if missing:
        raise AnswerError(f"the judge's JSON has no {', '.join(missing)}: {_quote(text)}")
    score, passed, reason = doc["score"], doc["pass"], doc["reason"]
    if isinstance(score, bool) or not isinstance(score, int) or not LOWEST <= score <= HIGHEST:
        raise AnswerError(f"the judge's score must be a whole number from 1 to 5, not {_quote(json.dumps(score))}")
    if not isinstance(passed, bool):
        raise AnswerError(f'the judge\'s "pass" must be true or false, not {_quote(json.dumps(passed))}')
    if not isinstance(reason, str):
        raise AnswerError(f"the judge's reason must be text, not {_quote(json.dumps(reason))}")
    return score, passed, reason.strip()


def _quote(text: str, limit: int = 120) -> str:
    text = " ".join(str(text).split())
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")
