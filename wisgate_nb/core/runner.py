"""The one way through the front doors: plan → run → show.

A door (the Python API, the magic, the CLI, the panel and its edit box, an experiment) says what it wants
as an ``Ask``; ``plan`` turns it into checked requests (nothing is sent if anything is wrong); ``run`` sends
them and waits (a kernel interrupt cancels), ``submit`` returns the Job at once. Either tells a ``Show``
(``output/shows.py``) what happens. The doors keep only what is theirs: parsing, widgets, the return value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import CancelledError
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigurationError
from ..output.shows import Show
from ..records.compare import Comparison, ids_in_order
from ..records.files import kept_inputs
from .plans import plan as plan_one
from .plans import plan_sweep
from .requests import Request

NO_SHOW = Show()


@dataclass(frozen=True)
class Ask:
    """What a door asks for. Several prompts, a ``vary`` (name → values) or ``sweep=True`` make a sweep:
    every combination, concurrently. ``options`` are image options (and ``profile``); ``fields`` a template's."""

    prompts: tuple[str, ...] = ()
    endpoint: str = "generations"
    images: tuple = ()
    mask: Any = None
    template: str | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)
    vary: Mapping[str, Any] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)
    tags: Any = ()  # passed as given: the request checks them
    demo: bool | None = None
    cache: bool | None = None
    full: bool = False
    source: str = "api"
    sweep: bool = False

    @property
    def several(self) -> bool:
        return self.sweep or len(self.prompts) > 1 or bool(self.vary)


def plan(session, ask: Ask) -> list[Request]:
    """The checked requests of an ask, in the order asked; ConfigurationError before anything is sent."""
    common = dict(tags=ask.tags, demo=ask.demo, cache=ask.cache, source=ask.source)
    if ask.endpoint == "edits":
        if len(ask.prompts) != 1 or ask.vary or ask.sweep:
            raise ConfigurationError("--edit takes exactly one prompt and no --vary")
        return [plan_one(session, ask.prompts[0], endpoint="edits", images=list(ask.images), mask=ask.mask,
                         full=ask.full, **common, **ask.options)]
    if ask.mask is not None:
        raise ConfigurationError("--mask goes with --edit IMAGE")
    if ask.several:
        if ask.template and len(ask.prompts) > 1:
            raise ConfigurationError("--template takes at most one block of extra detail, not several prompts")
        return plan_sweep(session, list(ask.prompts) or None, template=ask.template, **common,
                          **{**ask.options, **ask.fields, **ask.vary})
    return [plan_one(session, ask.prompts[0] if ask.prompts else None, template=ask.template, fields=dict(ask.fields),
                     full=ask.full, **common, **ask.options)]


def plan_again(session, record, *, source: str) -> Request:
    """A record's request made again, checked anew: its prompt (as the template filled it), model, options and,
    for an edit, the input images and mask the history kept."""
    inputs = {}
    if record.endpoint == "edits":
        images, mask = kept_inputs(session.history, record)
        inputs = dict(images=images, mask=mask)
    return session.prepare(record.prompt, source=source, template=record.template, model=record.model,
                           endpoint=record.endpoint, **inputs, **dict(record.params))


@dataclass(frozen=True)
class Batch:
    """Several requests' outcome: ``results`` (Generations or errors) in the order asked, and their Comparison."""

    results: list
    comparison: Comparison

    @classmethod
    def of(cls, session, results: Sequence) -> Batch:
        return cls(list(results), session.history.compare(ids_in_order(results)))  # the order asked, not finished

    @property
    def errors(self) -> list[Exception]:
        return [r for r in self.results if isinstance(r, Exception)]


def run(session, requests: Sequence[Request], show: Show = NO_SHOW, *, batch: bool | None = None):
    """Send and wait: one request → its Generation (its error raised), several → a Batch (errors inside);
    ``batch=True``: a Batch even of one (a sweep's). The show is told everything, and ``finished`` once, also
    when the call ends in an error or an interrupt."""
    requests = list(requests)
    show.started(requests)
    try:
        if not (len(requests) > 1 if batch is None else batch):
            outcome = _one(session, requests[0], show)
        else:
            outcome = Batch.of(session, session.run_many(requests, on_done=show.on_done))
    except BaseException as exc:
        show.finished(None, exc)
        raise
    show.finished(outcome, None)
    return outcome


def _one(session, request: Request, show: Show):
    try:
        result = session.run(request, on_partial=show.on_partial if request.streamed else None,
                             on_status=show.on_status)
    except Exception as exc:
        show.on_done(0, exc)
        raise
    show.on_done(0, result)
    return result


def submit(session, requests: Sequence[Request], show: Show = NO_SHOW):
    """Send in the background: the Job at once (its result: the Generation, or the list of results); the show
    is told as ``run`` tells it, ``finished`` when the job ends (a cancelled job: a ``CancelledError``), or
    ``refused`` if the session refuses the requests as they go out (the error is raised here; nothing was sent)."""
    requests = list(requests)
    show.started(requests)
    try:
        if len(requests) == 1:
            request = requests[0]
            job = session.submit(request, on_partial=show.on_partial if request.streamed else None,
                                 on_status=show.on_status)
        else:
            job = session.submit_many(requests, on_done=show.on_done)
    except BaseException as exc:  # refused as it went out (the budget, checked and reserved in one step)
        show.refused(exc)
        raise
    job.add_done_callback(lambda done: _ended(session, done, show, several=len(requests) > 1))
    return job


def _ended(session, job, show: Show, *, several: bool) -> None:
    """Tell the show how a submitted job ended (on the engine thread, or at once if it already had)."""
    if job.cancelled():
        show.finished(None, CancelledError())
        return
    error = job.exception()
    if not several:
        show.on_done(0, error if error is not None else job.result())
    if error is not None:
        show.finished(None, error)
    else:
        show.finished(Batch.of(session, job.result()) if several else job.result(), None)
