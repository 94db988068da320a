"""How a request ends in the history: its images and thumbnails on disk and one record line, always.

Runs on the engine loop, which never touches the disk itself: a result's own work — the thumbnails
(Pillow lets go of the GIL while it resizes and encodes), the full-size files and the fsynced record
line — runs in threads side by side, and so does the record of a failure, a cancel or a reuse.
``settled`` lets that work end even when the request is cancelled meanwhile: its record is written once.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from ..errors import WisGateError
from ..output.thumbnails import thumbnail_bytes, thumbnail_mime
from ..records import Generation, Record, demoscene, imagemeta, now_iso, provenance
from ..records import files as history_files
from ..records.reuse import link_result

MAX_ERROR_CHARS = 1000  # the history keeps this much of an error message: the start says what happened


def base_fields(request, record_id: str, session_name: str, started_at: str) -> dict:
    """What every record of this request says, however it ends."""
    return dict(id=record_id, session=session_name, started_at=started_at, prompt=request.prompt,
                model=request.model, endpoint=request.endpoint, size=request.body.get("size"), n=request.n,
                quality=request.body.get("quality"), params=request.options, tags=request.tags,
                source=request.source, demo=request.target.demo, profile=request.target.profile,
                group=request.group, template=request.template, inputs=request.input_digests,
                mask=request.mask_digest, cache_key=request.cache_key(),
                safety_identifier=request.body.get("safety_identifier"))


async def save_result(history, request, base: dict, response, latency: float, thumb_px: int) -> Generation:
    """Write a response's images, thumbnails and record; the Generation the user gets back."""
    blobs = response.images
    key = request.target.api_key.get().encode() if request.target.api_key else b""
    names = [history_files.image_name(base["id"], i, blob.format) for i, blob in enumerate(blobs)]
    mimes = [_thumbnail_mime(blob) for blob in blobs]  # chosen once: the file's name and its bytes agree
    thumbs = [history_files.thumbnail_name(name, mime) for name, mime in zip(names, mimes)]
    created = now_iso()

    def stamped(i: int, clean: bytes) -> bytes:
        """The file's bytes with its provenance (records/provenance.py); the pixels are not re-encoded."""
        b = blobs[i]
        return provenance.embed(clean, provenance.facts(effective, index=i, width=b.width, height=b.height,
                                                         revised_prompt=b.revised_prompt,
                                                         request_id=response.request_id, created=created,
                                                         demo_scene=demoscene.served(b.data)))

    def thumbnail(i: int) -> tuple[bytes, str]:
        drawn = thumbnail_bytes(blobs[i].decoded or blobs[i].data, thumb_px, mime=mimes[i])  # the pixels only
        history_files.write(history, thumbs[i], drawn[0])
        return drawn

    usage = response.usage if isinstance(response.usage, dict) else None
    total_tokens = usage.get("total_tokens") if usage else None
    size = base["size"] or response.meta.get("size")
    if size in (None, "auto") and blobs:
        size = f"{blobs[0].width}x{blobs[0].height}"
    # the size and quality the server used where the request left them to it: the files say what the record says
    effective = {**base, "size": size, "quality": base["quality"] or response.meta.get("quality")}
    record = Record(**effective, status="ok", latency_s=latency, images=len(blobs), paths=tuple(names), thumbs=tuple(thumbs),
                    request_id=response.request_id, usage=usage,
                    total_tokens=total_tokens if isinstance(total_tokens, int) else None,
                    revised_prompts=tuple(b.revised_prompt for b in blobs), attempts=response.attempts,
                    attempt_statuses=",".join(response.attempt_statuses),
                    request_id_header=response.request_id_header, stream_fallback=response.stream_fallback)

    def files_then_record() -> tuple[list[bytes], Path, list[bool]]:
        """The full-size files first: the record may only name image files that exist."""
        history.ensure_folder()
        clean = [imagemeta.drop_metadata_holding(b.data, key) for b in blobs]  # a server may echo the key into a file
        datas = [stamped(i, clean[i]) for i in range(len(blobs))]
        for name, data in zip(names, datas):
            history_files.write(history, name, data)
        history_files.write_inputs(history, request.images, request.mask)
        history.append(record)  # flushed and fsynced
        return datas, history.folder_of(record), [c == b.data for c, b in zip(clean, blobs)]

    # The thumbnails are drawn meanwhile (a view can always make a missing one again from the image).
    (datas, folder, kept), drawn = await asyncio.gather(
        asyncio.to_thread(files_then_record), asyncio.gather(*(asyncio.to_thread(thumbnail, i) for i in range(len(blobs)))))
    # the client's decoded images go to the user, unless the key was cut out of the file they came from
    decoded = tuple(b.decoded if whole else None for b, whole in zip(blobs, kept))
    return Generation(record, tuple(folder / n for n in names), tuple(folder / t for t in thumbs),
                      tuple(datas), full=request.full, decoded=decoded, thumbnails=tuple(drawn))


def _thumbnail_mime(blob) -> str:
    """The thumbnail's type, known before it is drawn (its name is in the record)."""
    return thumbnail_mime(blob.decoded if blob.decoded is not None else blob.to_pil())


def reuse_result(history, request, old: Record, base: dict, t0: float) -> Generation:
    """A new record whose images are those of an identical earlier result (nothing is sent)."""
    paths, thumbs = link_result(history, old, base["id"])
    history_files.write_inputs(history, request.images, request.mask)
    record = Record(**{**base, "size": old.size, "quality": old.quality}, status="ok",
                    latency_s=time.perf_counter() - t0, images=old.images, paths=paths, thumbs=thumbs,
                    request_id=old.request_id, usage=old.usage, total_tokens=0,
                    revised_prompts=old.revised_prompts, reused=True)
    history.append(record)
    folder = history.folder_of(record)  # called in a thread (``settled``): the disk is touched here
    return Generation(record, tuple(folder / p for p in paths), tuple(folder / t for t in thumbs), full=request.full)


async def settled(awaitable):
    """Await ``awaitable`` to its end even if the caller is cancelled meanwhile, then raise the cancel:
    what it writes (files, the history line) is written whole and once."""
    task = asyncio.ensure_future(awaitable)
    cancelled = False
    while not task.done():
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            if task.cancelled():
                raise
            cancelled = True
    if cancelled:
        raise asyncio.CancelledError
    return task.result()


def record_failure(history, base: dict, t0: float, status: str, exc: BaseException | None,
                   attempts: tuple[str, ...] = ()) -> None:
    """The record of a request that failed or was cancelled; ``attempts``: one word per attempt sent.

    A request whose result was already recorded (cancelled while its thumbnails were still drawn) keeps
    that record: every request is in the history exactly once.
    """
    if base["id"] in history:
        return
    if exc is None:
        message, error_type, request_id = "cancelled by the user", "Cancelled", None
    elif isinstance(exc, WisGateError):
        message, error_type, request_id = str(exc), type(exc).__name__, getattr(exc, "request_id", None)
    else:  # a bug of ours: still recorded, with its class in the message
        message, error_type, request_id = f"{type(exc).__name__}: {exc}", type(exc).__name__, None
    if len(message) > MAX_ERROR_CHARS:
        message = message[:MAX_ERROR_CHARS].rstrip() + "…"
    history.append(Record(**base, status=status, latency_s=time.perf_counter() - t0, error=message,
                          error_type=error_type, request_id=request_id, attempts=len(attempts),
                          attempt_statuses=",".join(attempts),
                          request_id_header=getattr(exc, "request_id_header", None) if request_id else None))
