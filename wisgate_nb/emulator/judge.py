"""The demo server's judge (``POST /v1/chat/completions``): deterministic, and it knows what it drew.

It reads the image's own provenance (the ``wisgate_nb`` PNG text chunk, or the XMP of a JPEG or WebP),
takes the scene the demo server drew (``demo_scene``: subjects with their colours, time, weather,
ground, style) or else the prompt's words, and checks the rubric's content words against it: a colour
before a noun asks for a subject of that colour. Score 1-5 from the share of words found, pass at 4.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import re
from typing import Any
from xml.sax.saxutils import unescape

from PIL import Image

from .params import ApiError

PASS_AT = 4
COLOURS = {"red", "orange", "yellow", "green", "blue", "purple", "pink", "brown", "black", "white", "gray", "golden",
           "silver", "violet", "teal", "cyan", "magenta"}
_SAME = {"grey": "gray", "sunset": "dusk", "sundown": "dusk", "twilight": "dusk", "evening": "dusk", "nighttime": "night",
         "midnight": "night", "sunrise": "dawn", "ocean": "sea", "lake": "sea", "sand": "beach", "desert": "beach",
         "woods": "forest", "grass": "meadow", "street": "city", "snowy": "snow", "rainy": "rain", "foggy": "fog",
         "misty": "fog", "stormy": "storm", "gold": "golden", "kitten": "cat", "puppy": "dog", "automobile": "car"}
_IGNORED = set("""a an the of in on at with and or to by for from under over above below near into onto
is are be being it its this that these those there here has have having does do show shows showing shown depict
depicts depicting visible clearly clear image picture photo photograph illustration rubric should must contain contains
containing include includes including some any one single as like very well looking look looks seen appear appears
scene beautiful nice good detailed high quality style styled""".split())
_WORD = re.compile(r"[a-z]{2,}")
_NOT = {"no", "not", "without", "nor"}
_XMP_JSON = re.compile(rb"<wisgate_nb:json>(.*?)</wisgate_nb:json>", re.DOTALL)


def answer(body: dict[str, Any]) -> dict[str, Any]:
    """The chat completion that grades the request's image against its rubric (ApiError if malformed)."""
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise ApiError(400, "you must provide a model parameter", param="model", code="missing_required_parameter")
    texts, urls = _parts(body.get("messages"))
    if not urls:
        raise ApiError(400, "The demo judge grades an image: send one as an image_url part.", param="messages")
    rubric = " ".join(t.removeprefix("Rubric:").strip() for t in texts)
    score, passed, reason = grade(rubric, provenance_of(_decode(urls[0])))
    content = json.dumps({"score": score, "pass": passed, "reason": reason})
    prompt_tokens = 85 * len(urls) + sum(len(t.split()) for t in texts) * 4 // 3
    completion_tokens = max(1, len(content) // 4)
    digest = hashlib.sha256(f"{rubric}\n{content}".encode()).hexdigest()[:24]
    return {"id": f"chatcmpl-demo{digest}", "object": "chat.completion",
            "created": 1745000000, "model": model,
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": content}}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens}}


def _parts(messages: Any) -> tuple[list[str], list[str]]:
    """The user messages' texts and image URLs (a system message is instructions, not the rubric)."""
    if not isinstance(messages, list) or not messages:
        raise ApiError(400, "Invalid 'messages': expected a non-empty array.", param="messages")
    texts, urls = [], []
    for message in messages:
        if not isinstance(message, dict) or message.get("role") != "user":
            continue
        content = message.get("content")
        for part in [{"type": "text", "text": content}] if isinstance(content, str) else content or []:
            if not isinstance(part, dict):
                continue
            if part.get("type") == "text" and isinstance(part.get("text"), str):
                texts.append(part["text"])
            elif part.get("type") == "image_url":
                url = part.get("image_url")
                url = url.get("url") if isinstance(url, dict) else url
                if isinstance(url, str):
                    urls.append(url)
    return texts, urls


def _decode(url: str) -> bytes:
    head, _, payload = url.partition(",")
    if not head.startswith("data:") or not head.endswith(";base64"):
        raise ApiError(400, "The demo judge reads images from data: URLs only (it has no network).",
                       param="image_url", code="invalid_image_url")
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(400, "Invalid image_url: the data URL is not base64.", param="image_url",
                       code="invalid_image_url") from None


def provenance_of(data: bytes) -> dict:
    """The wisgate_nb facts an image carries ({} for none), read with Pillow."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            text = im.info.get("wisgate_nb")
            xmp = im.info.get("xmp")
    except Exception:  # not an image Pillow can open
        raise ApiError(400, "Invalid image_url: the image cannot be decoded.", param="image_url",
                       code="invalid_image_format") from None
    if text is None and isinstance(xmp, (bytes, str)):
        found = _XMP_JSON.search(xmp.encode() if isinstance(xmp, str) else xmp)
        text = unescape(found.group(1).decode("utf-8", "replace")) if found else None
    try:
        facts = json.loads(text) if text else {}
    except ValueError:
        return {}
    return facts if isinstance(facts, dict) else {}


def _norm(word: str) -> str:
    word = _SAME.get(word, word)
    if len(word) > 4 and word.endswith("ies"):
        word = word[:-3] + "y"
    elif len(word) > 3 and word.endswith(("xes", "ches", "shes", "sses")):
        word = word[:-2]
    elif len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        word = word[:-1]
    return _SAME.get(word, word)


def drawn(facts: dict) -> tuple[set[str], set[tuple[str, str]]]:
    """(the words of what was drawn, its (colour, noun) pairs): from ``demo_scene``, else the prompt."""
    scene = facts.get("demo_scene")
    words: set[str] = set()
    pairs: set[tuple[str, str]] = set()
    if isinstance(scene, dict):
        for key in ("time", "weather", "ground"):
            if isinstance(scene.get(key), str):
                words |= {_norm(w) for w in _WORD.findall(scene[key].lower())}
        for value in (*(scene.get("style") or ()), *(scene.get("words") or ())):
            words |= {_norm(w) for w in _WORD.findall(str(value).lower())}
        for subject in scene.get("subjects") or ():
            if isinstance(subject, dict) and isinstance(subject.get("noun"), str):
                noun = _norm(subject["noun"].lower())
                colour = _norm(str(subject.get("colour") or "").lower())
                words.add(noun)
                if colour:
                    words.add(colour)
                    pairs.add((colour, noun))
        return words, pairs
    prompt = [_norm(w) for w in _WORD.findall(str(facts.get("prompt") or "").lower()) if w not in _IGNORED]
    pairs = {(a, b) for a, b in zip(prompt, prompt[1:]) if a in COLOURS and b not in COLOURS}
    return set(prompt), pairs


def grade(rubric: str, facts: dict) -> tuple[int, bool, str]:
    """(score 1-5, pass, reason) of a rubric against what the image shows."""
    words, pairs = drawn(facts)
    asked = [_norm(w) for w in _WORD.findall(rubric.lower()) if w not in _IGNORED]
    needs: list[tuple[str, bool]] = []  # (what is asked, whether it is there)
    i = 0
    while i < len(asked):
        word, noun = asked[i], asked[i + 1] if i + 1 < len(asked) else None
        if word in _NOT and noun:  # "no people", "without snow": met when it is not there
            needs.append((f"no {noun}", noun not in words))
            i += 2
        elif word in COLOURS and noun and noun not in COLOURS:  # "red fox": a fox, and a red one
            needs += [(noun, noun in words), (f"{word} {noun}", (word, noun) in pairs)]
            i += 2
        else:
            needs.append((word, word in words))
            i += 1
    needs = list(dict.fromkeys(needs))
    if not facts:
        return 1, False, "the image carries no record of what was drawn: the demo judge cannot grade it"
    if not needs:
        return 3, False, "the rubric names nothing the demo judge can check (nouns, colours, time, weather, ground, style)"
    found = [n for n, there in needs if there]
    missing = [n for n, there in needs if not there]
    score = 1 + round(4 * len(found) / len(needs))
    reason = "; ".join(part for part in (f"shows {', '.join(found)}" if found else "",
                                         f"missing {', '.join(missing)}" if missing else "") if part)
    return score, score >= PASS_AT, reason
