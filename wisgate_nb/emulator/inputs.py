"""Reading request bodies: JSON, multipart (files recorded by name and size only) and edit inputs.

No body larger than MAX_BODY is read: ``BodyLimit`` answers 413 to one announced larger, and stops
one that grows larger as it arrives, holding at most MAX_BODY of it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from PIL import Image
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from . import draw
from .params import MAX_SIDE, ApiError
from .state import RecordedRequest

__all__ = ["MAX_BODY", "BodyLimit", "EditInputs", "fit", "open_inputs", "read_edit", "read_json"]

MAX_BODY = 50 * 2**20

_IMAGE_FIELD = re.compile(r"^image(\[\d*\])?$")  # image, image[], image[0] ...
_MAX_IMAGES = 16
_BAD_JSON = (
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your "
    "HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)"
)


def _too_large() -> ApiError:
    return ApiError(413, f"The request body is larger than the {MAX_BODY // 2**20} MB this server accepts.",
                    code="request_too_large")


class BodyLimit:
    """ASGI middleware: 413 for a body over MAX_BODY, announced (before reading it) or as it arrives."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > MAX_BODY:
            error = _too_large()
            response = JSONResponse(error.body(), status_code=413, headers={"connection": "close"})
            return await response(scope, receive, send)
        size = 0

        async def counted():
            nonlocal size
            message = await receive()
            size += len(message.get("body", b""))
            if size > MAX_BODY:
                raise _too_large()
            return message

        await self.app(scope, counted, send)


def _without_data_urls(value: Any) -> Any:
    """A JSON body for the record: long data: URLs (image bytes) replaced by their length."""
    if isinstance(value, dict):
        return {k: _without_data_urls(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_data_urls(v) for v in value]
    if isinstance(value, str) and value.startswith("data:") and len(value) > 200:
        return f"<data URL, {len(value)} characters>"
    return value


async def read_json(request: Request, record: RecordedRequest) -> dict[str, Any]:
    """The JSON object in the body (an empty body counts as ``{}``)."""
    raw = await request.body()
    try:
        body = json.loads(raw) if raw.strip() else {}
    except (ValueError, RecursionError):  # RecursionError: nested deeper than Python's stack
        raise ApiError(400, _BAD_JSON) from None
    try:
        record.json = _without_data_urls(body)
    except RecursionError:
        record.json = "<a JSON body nested too deeply to record>"
    if not isinstance(body, dict):
        raise ApiError(400, "Invalid request body: expected a JSON object.", code="invalid_type")
    return body


def _add(recorded: dict[str, Any], key: str, entry: Any) -> None:
    """Repeated multipart names (image[]) become lists in the record."""
    if key not in recorded:
        recorded[key] = entry
    elif isinstance(recorded[key], list):
        recorded[key].append(entry)
    else:
        recorded[key] = [recorded[key], entry]


async def _read_form(
    request: Request, record: RecordedRequest
) -> tuple[dict[str, str], list[tuple[str, bytes]]]:
    """Multipart text fields (the last value wins) and the uploaded files in order."""
    fields: dict[str, str] = {}
    files: list[tuple[str, bytes]] = []
    recorded: dict[str, Any] = {}
    try:
        async with request.form(max_files=64, max_fields=256) as form:
            for key, value in form.multi_items():
                if isinstance(value, UploadFile):
                    data = await value.read()
                    files.append((key, data))
                    _add(
                        recorded,
                        key,
                        {"filename": value.filename, "size": len(data), "content_type": value.content_type,
                         "sha256": hashlib.sha256(data).hexdigest()[:16]},  # which bytes, never the bytes
                    )
                else:
                    fields[key] = value
                    _add(recorded, key, value)
    except HTTPException as exc:  # python-multipart could not parse the body
        raise ApiError(400, f"Could not parse the multipart body: {exc.detail}") from None
    finally:
        record.form = recorded
    return fields, files


@dataclass(frozen=True)
class EditInputs:
    """The parts of an edit request: its fields, the image and mask bytes, and how they came."""

    fields: dict[str, Any]
    images: list[bytes]
    mask: bytes | None
    form: bool  # multipart (text fields to coerce) rather than JSON
    param: str  # "image" (multipart) or "images" (JSON), for error messages

    def check_count(self) -> None:
        if not self.images:
            raise ApiError(
                400,
                f"Missing required parameter: '{self.param}'.",
                param=self.param,
                code="missing_required_parameter",
            )
        if len(self.images) > _MAX_IMAGES:
            raise ApiError(
                400,
                f"Invalid '{self.param}': array too long. Expected an array with maximum length {_MAX_IMAGES}, "
                f"but got an array with length {len(self.images)} instead.",
                param=self.param,
                code="array_above_max_length",
            )


def _data_url(ref: Any, param: str) -> bytes:
    """The bytes behind a JSON edit's image reference; offline, only data: URLs can work."""
    if not isinstance(ref, dict):
        raise ApiError(
            400, f"Invalid type for '{param}': expected an object.", param=param, code="invalid_type"
        )
    if "file_id" in ref:
        message = "The demo server has no uploaded files; send a data: URL or a multipart upload."
        raise ApiError(400, message, param=f"{param}.file_id", code="invalid_value")
    url = ref.get("image_url")
    if not isinstance(url, str) or not url.startswith("data:"):
        message = "The demo server cannot download images; send a data: URL or a multipart upload."
        raise ApiError(400, message, param=f"{param}.image_url", code="invalid_image_url")
    header, _, payload = url.partition(",")
    try:
        return base64.b64decode(payload, validate=True) if header.endswith(";base64") else payload.encode()
    except (binascii.Error, ValueError):
        raise ApiError(
            400,
            "Invalid image data.",
            type="image_generation_user_error",
            param=f"{param}.image_url",
            code="invalid_image_file",
        ) from None


async def read_edit(request: Request, record: RecordedRequest) -> EditInputs:
    """A multipart edit (image / image[] / image[0] + mask) or a JSON edit (images + mask as data: URLs)."""
    if request.headers.get("content-type", "").startswith("application/json"):
        body = await read_json(request, record)
        refs = body.get("images")
        if refs is not None and not isinstance(refs, list):
            raise ApiError(
                400, "Invalid type for 'images': expected an array.", param="images", code="invalid_type"
            )
        images = [_data_url(ref, f"images[{i}]") for i, ref in enumerate(refs or [])]
        mask = None if body.get("mask") is None else _data_url(body["mask"], "mask")
        return EditInputs(body, images, mask, form=False, param="images")
    fields, files = await _read_form(request, record)
    for key in fields:
        if _IMAGE_FIELD.match(key) or key == "mask":
            raise ApiError(400, f"Invalid type for '{key}': expected a file.", param=key, code="invalid_type")
    images = [data for key, data in files if _IMAGE_FIELD.match(key)]
    masks = [data for key, data in files if key == "mask"]
    return EditInputs(fields, images, masks[0] if masks else None, form=True, param="image")


def open_inputs(inputs: EditInputs) -> tuple[list[Image.Image], Image.Image | None]:
    """Decode the images and the mask (slow: run in a worker thread), or raise the API's 400."""
    many = len(inputs.images) > 1
    images = [
        draw.read_image(blob, param=f"{inputs.param}[{i}]" if many else inputs.param)
        for i, blob in enumerate(inputs.images)
    ]
    if inputs.mask is None:
        return images, None
    mask = draw.read_image(inputs.mask, param="mask", formats=("png",))
    first = images[0]
    if mask.size != first.size:
        raise ApiError(
            400,
            f"Invalid mask image: the mask is {mask.width}x{mask.height} but the image is "
            f"{first.width}x{first.height}; they must have the same dimensions.",
            param="mask",
            code="invalid_value",
        )
    if "A" not in mask.getbands() and "transparency" not in mask.info:
        raise ApiError(
            400,
            "Invalid mask image: the mask needs an alpha channel; its fully transparent pixels mark the area to edit.",
            param="mask",
            code="invalid_value",
        )
    return images, mask


def fit(size: tuple[int, int]) -> tuple[int, int]:
    """An input's size, scaled down to fit MAX_SIDE if it is larger."""
    scale = min(1.0, MAX_SIDE / max(size))
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))
