"""The Python API: generate, agenerate, edit, sweep, history, sessions, configure, panel; mask_painter,
compare_slider, provenance; grade and experiment."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .config import apply_settings
from .core import runner
from .core.plans import DryRun, split_params
from .core.session import current
from .errors import ConfigurationError
from .options import FRONT_DOOR
from .output.shows import Previews, Progress
from .records import Generation


def configure(**settings: Any):
    """Change settings for this session, e.g. ``configure(demo=True, size="512x512")``."""
    config = current().config
    apply_settings(config, settings)
    return config


def history(session: str | None = None):
    """This session's History (records of every request; ``.df`` for pandas), or another session's.

    ``session``: an id that ``sessions()`` lists, or ``"previous"``: the newest session before this one (after a
    kernel restart, the one before the restart).
    """
    if session is None:
        return current().history
    from .records.sessions import open_session

    running = current()
    return open_session(running.config.history_dir, session, current=running.history.session)


def sessions():
    """The sessions kept in ``history_dir`` as a DataFrame, newest first: session, started, ended, requests,
    images, folder. ``history(session=...)`` opens one."""
    from .records.sessions import sessions as listed

    return listed(current().config.history_dir)


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
    options, fields = split_params(params, template)
    ask = runner.Ask(() if prompt is None else (prompt,), template=template, fields=fields,
                     options=_with_stream(options, stream), tags=tags, demo=demo, cache=cache, full=full)
    return _run(ask, dry_run, on_partial)


async def agenerate(prompt: str | None = None, *, template: str | None = None, stream: bool | int | None = None,
                    tags: Sequence[str] = (), demo: bool | None = None, cache: bool | None = None,
                    on_partial: Callable | None = None, **params: Any) -> Generation:
    """``await agenerate(...)``: the same as generate, without blocking the caller's event loop."""
    session = current()
    options, fields = split_params(params, template)
    ask = runner.Ask(() if prompt is None else (prompt,), template=template, fields=fields,
                     options=_with_stream(options, stream), tags=tags, demo=demo, cache=cache)
    job = runner.submit(session, runner.plan(session, ask), Previews(on_partial, live=False))
    return await asyncio.wrap_future(job)


def edit(image: Any, prompt: str, mask: Any = None, *, stream: bool | int | None = None, tags: Sequence[str] = (),
         demo: bool | None = None, cache: bool | None = None, dry_run: bool = False, full: bool = False,
         on_partial: Callable | None = None, **params: Any):
    """Edit an image (a path, bytes, a PIL image, a Generation, or a list of them) with a prompt and optional mask."""
    images = tuple(image) if isinstance(image, (list, tuple)) else (image,)
    options, fields = split_params(params)
    if fields:
        raise ConfigurationError(f"unknown option(s) for edit: {', '.join(sorted(fields))}")
    ask = runner.Ask((prompt,), endpoint="edits", images=images, mask=mask, options=_with_stream(options, stream),
                     tags=tags, demo=demo, cache=cache, full=full)
    return _run(ask, dry_run, on_partial)


def sweep(prompts: Sequence[str] | str | None = None, *, template: str | None = None, tags: Sequence[str] = (),
          demo: bool | None = None, cache: bool | None = None, show_progress: bool = True, **param_lists: Any):
    """Run the cartesian product of prompts x parameter values concurrently; returns the Comparison.

    ``sweep(prompts=["a fox", "a cat"], size=["512x512", "1024x1024"], quality=["low", "high"], n=1)``.
    A list value varies; a single value is used for every request. With ``template=NAME``, list-valued
    template fields vary too.
    """
    session = current()
    prompts = (prompts,) if isinstance(prompts, str) else tuple(prompts or ())
    ask = runner.Ask(prompts, template=template, vary=param_lists, tags=tags, demo=demo, cache=cache,
                     sweep=True)
    return runner.run(session, runner.plan(session, ask), Progress(enabled=show_progress), batch=True).comparison


def grade(target: Any, rubric: str, *, judge: str | None = None, demo: bool | None = None):
    """Grade images with a vision model: ``grade(result, "a red fox in the snow, at night")`` returns Grades.

    ``target`` is a result, a list of them, a sweep or experiment, record ids or history rows. Each image
    goes to the judge (``judge=`` or ``%config WisGate.judge``) on the same endpoint and key, which answers a
    score from 1 to 5, pass and a reason; demo images are graded by the demo judge. An answer that is not such
    a grade is a recorded failure. A grade is kept per image, rubric and judge: grading again sends nothing.
    """
    from .grading.run import grade as run

    return run(current(), target, rubric, judge=judge, demo=demo)


def experiment(prompts: Sequence[str] | str | None = None, *, template: str | None = None, rubric: str, n: int = 4,
               judge: str | None = None, demo: bool | None = None, tags: Sequence[str] = (), show_progress: bool = True,
               **param_lists: Any):
    """Compare prompts by numbers: a sweep whose every image is graded against ``rubric``; returns an Experiment.

    ``experiment(prompts=["a fox", "a red fox in the snow"], rubric="a red fox in the snow", n=4)``. List values
    of image options vary as in ``sweep``. ``.summary()`` has a row per variant (mean score, its 95 % Student-t
    interval, pass rate, images, cost), ``.best()`` is the top variant, and the experiment shows a ranked grid.
    Interrupted, it resumes when run again with the same arguments: done requests and grades are reused.
    """
    from .grading.experiment import run_experiment

    return run_experiment(current(), prompts, template=template, rubric=rubric, n=n, judge=judge, demo=demo,
                          tags=tags, show_progress=show_progress, **param_lists)


def mask_painter(image: Any, brush: int = 40):
    """Paint the area of an image to change; ``painter.mask`` is the mask, and ``edit(..., mask=painter)`` works.

    ``image`` is a result, a PIL image, a path or bytes; ``brush`` is the brush's diameter in the image's pixels.
    """
    from .widgets.painter import MaskPainter  # anywidget loads with the first painter, not with the package

    return MaskPainter(image, brush=brush)


def compare_slider(a: Any, b: Any, *, labels: Sequence[str] | None = None, position: float = 50.0):
    """Two images (results, PIL images or paths) one over the other, with a divider to drag (or move with the keys)."""
    from .output.slider import CompareSlider  # anywidget loads with the first slider, not with the package

    def image_of(x: Any) -> Any:
        return x.first_image if isinstance(x, Generation) else x

    def label_of(x: Any, letter: str) -> str:
        if isinstance(x, Generation):
            return f"{letter}: {x.prompt if len(x.prompt) <= 40 else x.prompt[:39] + '…'}"
        return f"{letter}: {Path(x).name}" if isinstance(x, (str, Path)) else letter

    if labels is None:
        labels = (label_of(a, "A"), label_of(b, "B"))
    chosen = labels if isinstance(labels, str) else tuple(labels)  # a lone string is refused by the slider
    return CompareSlider(image_of(a), image_of(b), labels=chosen, position=position)


def provenance(path) -> dict:
    """What an image file written by wisgate_nb says of itself: prompt, model, params, request_id, created, ...

    {} for a file without it; a damaged record gives what can be read, with a warning.
    """
    from .records.provenance import read

    return read(path)


def _with_stream(options: dict, stream: bool | int | None) -> dict:
    return options if stream is None else {**options, "stream": stream}


def _run(ask, dry_run: bool, on_partial: Callable | None):
    """generate's and edit's: the DryRun, or the Generation (previews of a stream in place, or to on_partial)."""
    session = current()
    request, = runner.plan(session, ask)
    if dry_run:
        return DryRun.of(request)
    return runner.run(session, [request], Previews(on_partial))


def _options_help(endpoint: str) -> str:
    """The registry's image options as a help section, one line each."""
    lines = [f"    {o.name}: {o.help}" for o in FRONT_DOOR if endpoint in o.endpoints]
    return "\n\n    Image options (absent or None: the session's setting or the server's default):\n" + "\n".join(lines)


# Every image option of the registry, in the functions' help (help(wisgate_nb.generate), Shift-Tab).
generate.__doc__ += _options_help("generations")
agenerate.__doc__ += _options_help("generations")
edit.__doc__ += _options_help("edits")
sweep.__doc__ += _options_help("generations")
experiment.__doc__ += _options_help("generations")
