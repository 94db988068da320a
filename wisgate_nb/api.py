"""The Python API: generate, agenerate, edit, sweep, history, configure, panel."""

from __future__ import annotations

import asyncio
import itertools
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from . import display
from .config import apply_settings
from .errors import ConfigurationError
from .generation import Generation
from .session import Request, current


def configure(**settings: Any):
    """Change settings for this session, e.g. ``configure(demo=True, size="512x512")``."""
    config = current().config
    apply_settings(config, settings)
    return config


def history():
    """This session's History (records of every request; ``.df`` for pandas)."""
    return current().history


def panel():
    """The ipywidgets panel: prompt, size, n, Generate — the notebook stays free."""
    from .panel import Panel

    return Panel(current())


def _request(prompt: str | None, *, template: str | None, fields: dict, endpoint: str = "generations",
             source: str = "api", **kwargs: Any) -> Request:
    """Build a validated Request, filling a template first when one is named."""
    session = current()
    info = None
    if template is not None:
        from .templates import render_template

        prompt, info = render_template(template, fields, extra=prompt)
    elif fields:
        raise ConfigurationError(f"unknown option(s) {', '.join(sorted(fields))} (template fields need template=NAME)")
    if prompt is None:
        raise ConfigurationError("a prompt is needed: generate('a red fox in the snow')")
    stream = kwargs.pop("stream", None)
    if stream is not None and not isinstance(stream, (bool, int)):
        raise ConfigurationError(f"stream must be True, False or a number of partial images (0-3); got {stream!r}")
    if stream:
        kwargs["stream"] = True
        kwargs.setdefault("partial_images", 2 if stream is True else int(stream))
    return session.prepare(prompt, endpoint=endpoint, source=source, template=info, **kwargs)


_OPTION_NAMES = {"size", "n", "quality", "model", "output_format", "background", "moderation", "output_compression",
                 "partial_images", "user", "style", "response_format", "input_fidelity", "profile"}


def _split(params: dict, template: str | None = None) -> tuple[dict, dict]:
    """Separate image options from template fields: a template's own field names always go to it
    (a field may be called ``style`` or ``background``); anything else unknown is a field or an error."""
    own: tuple[str, ...] = ()
    if template is not None:
        from .templates import get

        own = get(template).fields
    options = {k: v for k, v in params.items() if k in _OPTION_NAMES and k not in own}
    fields = {k: v for k, v in params.items() if k not in options}
    return options, fields


def generate(prompt: str | None = None, *, template: str | None = None, stream: bool | int | None = None,
             tags: Sequence[str] = (), demo: bool | None = None, cache: bool | None = None, dry_run: bool = False,
             full: bool = False, on_partial: Callable | None = None, **params: Any):
    """Generate images and wait for them: returns a Generation that renders itself in a notebook.

    ``params`` are image options (size, n, quality, model, output_format, background, ...) and, with
    ``template=NAME``, the template's fields. ``stream=True`` (or a number of partial images) shows
    previews as they arrive. ``dry_run=True`` shows the request that would be sent and sends nothing.
    """
    options, fields = _split(params, template)
    request = _request(prompt, template=template, fields=fields, stream=stream, tags=tags, demo=demo, cache=cache,
                       full=full, **options)
    if dry_run:
        return DryRun.of(request)
    session = current()
    with display.previews(request, on_partial) as preview:
        return session.run(request, on_partial=preview)


async def agenerate(prompt: str | None = None, *, template: str | None = None, stream: bool | int | None = None,
                    tags: Sequence[str] = (), demo: bool | None = None, cache: bool | None = None,
                    on_partial: Callable | None = None, **params: Any) -> Generation:
    """``await agenerate(...)``: the same as generate, without blocking the caller's event loop."""
    options, fields = _split(params, template)
    request = _request(prompt, template=template, fields=fields, stream=stream, tags=tags, demo=demo, cache=cache,
                       **options)
    future = current().submit(request, on_partial=on_partial)
    return await asyncio.wrap_future(future)


def edit(image: Any, prompt: str, mask: Any = None, *, stream: bool | int | None = None, tags: Sequence[str] = (),
         demo: bool | None = None, cache: bool | None = None, dry_run: bool = False, full: bool = False,
         on_partial: Callable | None = None, **params: Any):
    """Edit an image (a path, bytes, a PIL image, a Generation, or a list of them) with a prompt and optional mask."""
    images = list(image) if isinstance(image, (list, tuple)) else [image]
    options, fields = _split(params)
    if fields:
        raise ConfigurationError(f"unknown option(s) for edit: {', '.join(sorted(fields))}")
    request = _request(prompt, template=None, fields={}, endpoint="edits", images=images, mask=mask, stream=stream,
                       tags=tags, demo=demo, cache=cache, full=full, **options)
    if dry_run:
        return DryRun.of(request)
    with display.previews(request, on_partial) as preview:
        return current().run(request, on_partial=preview)


def sweep(prompts: Sequence[str] | str | None = None, *, template: str | None = None, tags: Sequence[str] = (),
          demo: bool | None = None, cache: bool | None = None, show_progress: bool = True, **param_lists: Any):
    """Run the cartesian product of prompts x parameter values concurrently; returns the Comparison.

    ``sweep(prompts=["a fox", "a cat"], size=["512x512", "1024x1024"], quality=["low", "high"], n=1)``.
    A list value varies; a single value is used for every request. With ``template=NAME``, list-valued
    template fields vary too.
    """
    requests = plan_sweep(prompts, template=template, tags=tags, demo=demo, cache=cache, **param_lists)
    group = requests[0].group
    session = current()
    with display.progress(len(requests), enabled=show_progress) as on_done:
        session.run_many(requests, on_done=on_done)
    return session.history.compare(group=group)


def plan_sweep(prompts: Sequence[str] | str | None = None, *, template: str | None = None, tags: Sequence[str] = (),
               demo: bool | None = None, cache: bool | None = None, source: str = "api",
               **param_lists: Any) -> list[Request]:
    """The validated requests of a sweep (everything checked before anything is sent)."""
    if isinstance(prompts, str):
        prompts = [prompts]
    if not prompts and template is None:
        raise ConfigurationError("sweep needs prompts=[...] (or template=NAME)")
    varied = {k: list(v) if isinstance(v, (list, tuple)) else [v] for k, v in param_lists.items()}
    for key, values in varied.items():
        if not values:
            raise ConfigurationError(f"sweep: {key}=[] has no values")
    group = "sweep-" + secrets.token_hex(3)
    keys = list(varied)
    requests = []
    for prompt in prompts or [None]:
        for combo in itertools.product(*(varied[k] for k in keys)):
            options, fields = _split(dict(zip(keys, combo)), template)
            requests.append(_request(prompt, template=template, fields=fields, tags=tags, demo=demo, cache=cache,
                                     source=source, group=group, **options))
    total_images = sum(r.n for r in requests)
    if len(requests) > 200:
        raise ConfigurationError(f"this sweep would send {len(requests)} requests ({total_images} images); "
                                 "split it (at most 200 requests per sweep)")
    return requests


@dataclass(frozen=True)
class DryRun:
    """The request that would be sent (the key masked); nothing was sent or recorded."""

    method: str
    url: str
    headers: dict
    body: dict
    files: tuple[str, ...]

    @classmethod
    def of(cls, request: Request) -> DryRun:
        target = request.target
        auth = f"Bearer {target.api_key.masked()}" if target.api_key else "(none: demo mode)"
        files = tuple(f"{name} ({mime}, {len(data)} bytes)" for name, data, mime in request.images)
        if request.mask:
            files += (f"mask: {request.mask[0]} ({request.mask[2]}, {len(request.mask[1])} bytes)",)
        return cls("POST", f"{target.base_url}/images/{request.endpoint}", {"Authorization": auth},
                   dict(request.body), files)

    @property
    def prompt(self) -> str:
        return self.body["prompt"]

    def __str__(self) -> str:
        import json

        lines = ["dry run: nothing sent, nothing recorded", f"prompt: {self.prompt}", f"{self.method} {self.url}",
                 f"Authorization: {self.headers['Authorization']}", json.dumps(self.body, indent=2, ensure_ascii=False)]
        lines += [f"file: {f}" for f in self.files]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        from html import escape

        return f'<pre class="wisgate-nb">{escape(str(self))}</pre>'

    def __repr__(self) -> str:
        return str(self)
