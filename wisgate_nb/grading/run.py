"""Grading: every image of a target goes to the judge (``POST /chat/completions``), at most
``max_concurrency`` at once on the session's engine, through the images client's send loop and rules.

Every judge request ends in the history (a record of kind ``grade``, with its tokens: it counts in
``usage()``, ``max_cost`` and a gateway's quota, never as images); every answer ends in ``grades.jsonl``,
a malformed one as a failure. An image whose bytes, rubric and judge were graded before is not sent again.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.engine import wait
from ..core.recording import settled
from ..errors import ConfigurationError, WisGateError
from ..http.messages import mask_secret
from ..output import html, live
from ..records import Generation, Record, new_id, now_iso
from ..records.budget import check_budget
from ..records.compare import Comparison
from . import judge as judging
from .result import Grade, Grades

MAX_ERROR_CHARS = 1000


@dataclass(frozen=True)
class Image:
    """One image to grade: its record, its index there and its full-size file."""

    record: Record
    index: int
    path: Path


def images_of(target: Any, history) -> list[Image]:
    """The images of a Generation, a list of them, a comparison, sweep or experiment, record ids or history rows."""
    records = _records(target, history)
    images = [Image(r, i, p) for r in records if r.status == "ok" and r.request_kind == "image"
              for i, p in enumerate(history.full_paths(r))]
    if not images:
        raise ConfigurationError("nothing to grade: the target has no image (grade a result, a sweep, record "
                                 "ids or history rows)")
    missing = [str(image.path) for image in images if not image.path.is_file()]
    if missing:
        raise ConfigurationError(f"image file missing, nothing was sent: {', '.join(missing[:3])}")
    return images


def _records(target: Any, history) -> list[Record]:
    if isinstance(target, Generation):
        return [target.record]
    if isinstance(target, Record):
        return [target]
    if isinstance(target, Comparison) or hasattr(target, "records"):  # a sweep, an experiment
        return list(target.records)
    if isinstance(target, str):
        return [_record(history, target)]
    if hasattr(target, "columns") and "id" in target.columns:  # history rows (History.df, images_df)
        return [_record(history, rid) for rid in dict.fromkeys(target["id"].tolist())]
    if isinstance(target, (list, tuple)):
        return [r for item in target for r in _records(item, history)]
    if hasattr(target, "to_dict") and "id" in getattr(target, "index", ()):  # one row (a pandas Series)
        return [_record(history, target["id"])]
    raise ConfigurationError(f"cannot grade a {type(target).__name__}: give a result, a list of them, a comparison, "
                             "sweep or experiment, record ids or history rows")


def _record(history, record_id: str) -> Record:
    if record_id not in history:
        raise ConfigurationError(f"no record {record_id!r} in this session's history")
    return history[record_id]


def grade(session, target: Any, rubric: str, *, judge: str | None = None, demo: bool | None = None,
          source: str = "api", show_progress: bool = True) -> Grades:
    """Check everything, then grade every image of ``target`` and wait (an interrupt cancels what is in flight)."""
    rubric = judging.check_rubric(rubric)
    model = (judge or session.config.judge).strip()
    if not model:
        raise ConfigurationError("no judge model: %config WisGate.judge = 'gpt-4.1-mini'")
    history = session.history
    images = images_of(target, history)
    if demo is None and not session.config.demo and all(im.record.demo for im in images):
        demo = True  # demo images are graded by the demo judge that drew them
    where = session.target(demo=demo)
    config = session.config
    check_budget(history, 0, max_cost=config.max_cost, prices=config.prices or None)
    area = live.Live(html.status_html(f"grading {len(images)} images with {model}"),
                     enabled=show_progress and len(images) > 1)
    counted = itertools.count(1)

    def on_done(_index: int, _grade: Grade) -> None:  # on the engine thread: the live line only
        area.update(html.status_html(f"{next(counted)} of {len(images)} images graded with {model}"))

    try:
        run = grade_images(session, where, images, rubric, model, source=source, on_done=on_done)
        return Grades(wait(session.engine.submit(run)), history, rubric=rubric, judge=model)
    finally:
        area.update("")  # the grades show themselves


async def grade_images(session, where, images: list[Image], rubric: str, model: str, *, source: str,
                       on_done=None) -> list[Grade]:
    """On the engine loop: every image graded (from the cache, or by one judge request each), in order."""
    from ..http.chat import ChatClient

    history = session.history
    client = session._client(where, ChatClient)
    secret = where.api_key.get() if where.api_key else None

    async def one(index: int, image: Image) -> Grade:
        grade = await graded(image)
        if on_done is not None:
            on_done(index, grade)
        return grade

    async def graded(image: Image) -> Grade:
        data = await asyncio.to_thread(image.path.read_bytes)
        digest = hashlib.sha256(data).hexdigest()[:16]
        known = await asyncio.to_thread(history.grade_book.cached, digest, rubric, model)  # may read earlier sessions
        if known is not None:
            line = {**known, "id": image.record.id, "index": image.index, "cached": True, "graded_at": now_iso()}
            await asyncio.to_thread(history._add_grade, line)  # the newest grading of this image, for History.df
            return Grade.from_line(line, image.path, image.record.prompt, cached=True)
        line = await _ask(client, session._slots(), history, where, image, data, digest, rubric, model, secret, source)
        await asyncio.to_thread(history._add_grade, line)
        return Grade.from_line(line, image.path, image.record.prompt)

    # return_exceptions: a cancel ends the grading once every judge request has written its record, not at the first
    results = await asyncio.gather(*(one(i, image) for i, image in enumerate(images)), return_exceptions=True)
    failed = next((r for r in results if isinstance(r, BaseException)), None)
    if failed is not None:
        raise failed
    return results


async def _ask(client, slots, history, where, image: Image, data: bytes, digest: str, rubric: str, model: str,
               secret: str | None, source: str) -> dict:
    """One judge request (in one of the session's request slots), recorded however it ends, cancelled while it
    waited for a slot too; the grade line it gives (a failure has ``error``)."""
    record_id, started, t0 = new_id(), now_iso(), time.perf_counter()
    attempts: list[str] = []
    base = dict(id=record_id, session=history.session or "", started_at=started, prompt=rubric, model=model,
                endpoint="chat/completions", n=0, params={"record": image.record.id, "index": image.index,
                                                          "digest": digest},
                source=source, demo=where.demo, profile=where.profile, request_kind="grade")
    line = {"id": image.record.id, "index": image.index, "digest": digest, "rubric": rubric, "judge": model,
            "request": record_id, "score": None, "pass": None, "reason": None, "error": None}
    try:
        async with slots:
            response = await client.complete(judging.request_body(model, rubric, data), attempt_log=attempts)
    except asyncio.CancelledError:  # recorded in a thread, whole, as an image request is; then the cancel goes on
        await settled(asyncio.to_thread(_write, history, base, t0, attempts, status="cancelled",
                                        error="cancelled by the user", error_type="Cancelled"))
        raise
    except WisGateError as exc:
        message = _short(mask_secret(str(exc), secret))
        await asyncio.to_thread(_write, history, base, t0, attempts, status="error", error=message,
                                error_type=type(exc).__name__, request_id=exc.request_id)
        return {**line, "error": f"{type(exc).__name__}: {message}", "graded_at": now_iso()}
    usage = response.usage or {}
    tokens = usage.get("total_tokens")
    try:
        score, passed, reason = judging.parse_answer(response.content)
        line.update(score=score, reason=_short(mask_secret(reason, secret)))
        line["pass"] = passed
    except judging.AnswerError as exc:
        line["error"] = _short(mask_secret(str(exc), secret))
    await asyncio.to_thread(_write, history, base, t0, attempts, status="ok", request_id=response.request_id,
                            usage={k: v for k, v in usage.items() if isinstance(v, (int, float))} or None,
                            total_tokens=tokens if isinstance(tokens, int) and not isinstance(tokens, bool) else None)
    return {**line, "graded_at": now_iso()}


def _write(history, base: dict, t0: float, attempts: list[str], **fields: Any) -> None:
    history.append(Record(**base, latency_s=time.perf_counter() - t0, attempts=len(attempts),
                          attempt_statuses=",".join(attempts), **fields))


def _short(text: str) -> str:
    return text if len(text) <= MAX_ERROR_CHARS else text[:MAX_ERROR_CHARS].rstrip() + "…"
