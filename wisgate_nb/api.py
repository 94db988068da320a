"""The Python API: generate, agenerate, edit, sweep, history, configure, panel."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

from .config import apply_settings
from .core.plans import DryRun, plan, plan_sweep, split_params
from .core.session import current
from .errors import ConfigurationError
from .history import Generation
from .history.compare import ids_in_order
from .output import live


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
    from .widgets import Panel

    return Panel(current())


def generate(prompt: str | None = None, *, template: str | None = None, stream: bool | int | None = None,
             tags: Sequence[str] = (), demo: bool | None = None, cache: bool | None = None, dry_run: bool = False,
             full: bool = False, on_partial: Callable | None = None, **params: Any):
    """Generate images and wait for them: returns a Generation that renders itself in a notebook.

    ``params`` are image options (size, n, quality, model, output_format, background, ...) and, with
    ``template=NAME``, the template's fields. ``stream=True`` (or a number of partial images) shows
    previews as they arrive. ``dry_run=True`` shows the request that would be sent and sends nothing.
    """
    session = current()
    options, fields = split_params(params, template)
    request = plan(session, prompt, template=template, fields=fields, stream=stream, tags=tags, demo=demo, cache=cache,
                   full=full, **options)
    if dry_run:
        return DryRun.of(request)
    with live.previews(request, on_partial) as preview:
        return session.run(request, on_partial=preview)


async def agenerate(prompt: str | None = None, *, template: str | None = None, stream: bool | int | None = None,
                    tags: Sequence[str] = (), demo: bool | None = None, cache: bool | None = None,
                    on_partial: Callable | None = None, **params: Any) -> Generation:
    """``await agenerate(...)``: the same as generate, without blocking the caller's event loop."""
    session = current()
    options, fields = split_params(params, template)
    request = plan(session, prompt, template=template, fields=fields, stream=stream, tags=tags, demo=demo, cache=cache,
                   **options)
    return await asyncio.wrap_future(session.submit(request, on_partial=on_partial))


def edit(image: Any, prompt: str, mask: Any = None, *, stream: bool | int | None = None, tags: Sequence[str] = (),
         demo: bool | None = None, cache: bool | None = None, dry_run: bool = False, full: bool = False,
         on_partial: Callable | None = None, **params: Any):
    """Edit an image (a path, bytes, a PIL image, a Generation, or a list of them) with a prompt and optional mask."""
    session = current()
    images = list(image) if isinstance(image, (list, tuple)) else [image]
    options, fields = split_params(params)
    if fields:
        raise ConfigurationError(f"unknown option(s) for edit: {', '.join(sorted(fields))}")
    request = plan(session, prompt, endpoint="edits", images=images, mask=mask, stream=stream, tags=tags, demo=demo,
                   cache=cache, full=full, **options)
    if dry_run:
        return DryRun.of(request)
    with live.previews(request, on_partial) as preview:
        return session.run(request, on_partial=preview)


def sweep(prompts: Sequence[str] | str | None = None, *, template: str | None = None, tags: Sequence[str] = (),
          demo: bool | None = None, cache: bool | None = None, show_progress: bool = True, **param_lists: Any):
    """Run the cartesian product of prompts x parameter values concurrently; returns the Comparison.

    ``sweep(prompts=["a fox", "a cat"], size=["512x512", "1024x1024"], quality=["low", "high"], n=1)``.
    A list value varies; a single value is used for every request. With ``template=NAME``, list-valued
    template fields vary too.
    """
    session = current()
    requests = plan_sweep(session, prompts, template=template, tags=tags, demo=demo, cache=cache, **param_lists)
    with live.progress(len(requests), enabled=show_progress) as on_done:
        results = session.run_many(requests, on_done=on_done)
    return session.history.compare(ids_in_order(results))  # the order asked for, not the order finished
