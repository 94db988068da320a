"""What every front door does before sending: fill a template, turn ``stream`` into partial images,
separate image options from template fields, plan a sweep, or show a dry run instead.

The front doors reach these through ``core/runner.plan``; none builds a request its own way.
"""

from __future__ import annotations

import itertools
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .. import options as registry
from ..errors import ConfigurationError
from ..output import html
from .requests import Request

MAX_SWEEP_REQUESTS = 200
_REQUEST_WORDS = ("profile",)  # chosen per request, though not an image option


def options_from_args(args: Any) -> dict:
    """The image options (and the profile) a magic's or the CLI's parsed flags ask for: those given."""
    given = {o.name: getattr(args, o.name, None) for o in registry.FRONT_DOOR}  # the CLI's: one endpoint's only
    options = {name: value for name, value in given.items() if value is not None}
    if args.profile is not None:
        options["profile"] = args.profile
    return options


def split_params(params: dict, template: str | None = None) -> tuple[dict, dict]:
    """(image options, template fields). A template's own field names always go to it (a field may be
    called ``style`` or ``background``); anything else unknown is a field, or an error without a template."""
    own: tuple[str, ...] = ()
    if template is not None:
        from .. import templates

        own = templates.get(template).fields
    known = set(registry.BY_NAME) | set(_REQUEST_WORDS)
    options = {k: v for k, v in params.items() if k in known and k not in own}
    fields = {k: v for k, v in params.items() if k not in options}
    return options, fields


def plan(session, prompt: str | None, *, template: str | None = None, fields: dict | None = None,
         endpoint: str = "generations", source: str = "api", **kwargs: Any) -> Request:
    """A validated Request: the template filled in first when one is named; ``stream`` may be a bool or a count."""
    fields = dict(fields or {})
    info = None
    if template is not None:
        from ..templates import render_template

        prompt, info = render_template(template, fields, extra=prompt)
    elif fields:
        names = ", ".join(sorted(fields))
        near = registry.suggest(sorted(fields)[0], registry.BY_NAME)
        raise ConfigurationError(f"unknown option(s) {names}{near} (template fields need template=NAME)")
    if prompt is None:
        raise ConfigurationError("a prompt is needed: generate('a red fox in the snow')")
    for name, value in registry.stream_options(kwargs.pop("stream", None)).items():
        if kwargs.get(name) is None:  # a partial_images given as well wins over the one stream= implies
            kwargs[name] = value
    return session.prepare(prompt, endpoint=endpoint, source=source, template=info, **kwargs)


def plan_sweep(session, prompts: Sequence[str] | str | None = None, *, template: str | None = None,
               source: str = "api", **param_lists: Any) -> list[Request]:
    """The validated requests of a sweep: the product of prompts x list-valued parameters, all checked first.

    Keyword arguments that are not image options or template fields (tags, demo, cache) are shared.
    """
    if isinstance(prompts, str):
        prompts = [prompts]
    if not prompts and template is None:
        raise ConfigurationError("sweep needs prompts=[...] (or template=NAME)")
    shared = {k: param_lists.pop(k) for k in ("tags", "demo", "cache") if k in param_lists}
    varied = {k: list(v) if isinstance(v, (list, tuple)) else [v] for k, v in param_lists.items()}
    empty = [k for k, values in varied.items() if not values]
    if empty:
        raise ConfigurationError(f"sweep: {empty[0]}=[] has no values")
    group = "sweep-" + secrets.token_hex(3)
    keys = list(varied)
    requests = []
    for prompt in prompts or [None]:
        for combo in itertools.product(*(varied[k] for k in keys)):
            options, fields = split_params(dict(zip(keys, combo)), template)
            requests.append(plan(session, prompt, template=template, fields=fields, source=source, group=group,
                                 **shared, **options))
    if len(requests) > MAX_SWEEP_REQUESTS:
        raise ConfigurationError(f"this sweep would send {len(requests)} requests ({sum(r.n for r in requests)} "
                                 f"images); split it (at most {MAX_SWEEP_REQUESTS} requests per sweep)")
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
        lines = ["dry run: nothing sent, nothing recorded", f"prompt: {self.prompt}", f"{self.method} {self.url}",
                 f"Authorization: {self.headers['Authorization']}", json.dumps(self.body, indent=2, ensure_ascii=False)]
        lines += [f"file: {f}" for f in self.files]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return html.pre_html(str(self))

    def __repr__(self) -> str:
        return str(self)
