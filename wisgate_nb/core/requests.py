"""A validated request, ready to send: built on the main thread, before anything is sent or recorded.

Every check happens in :func:`build_request`: the options (all problems at once), then the prompt,
then where it goes (the key), then the edit's images, then the budget (checked again by the session
as it reserves the images: ``Session.submit``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .. import options as registry
from ..errors import ConfigurationError
from ..records.budget import Budget
from ..records.reuse import cache_key
from .inputs import Upload, load_edit_inputs
from .profiles import active_profile
from .targets import Target, resolve_target


@dataclass(frozen=True)
class Request:
    """A validated request, ready to send."""

    endpoint: str  # "generations" | "edits"
    prompt: str
    model: str
    body: dict  # the JSON payload (generations) or the multipart fields before encoding (edits)
    target: Target
    images: tuple[Upload, ...] = field(default=(), repr=False)
    mask: Upload | None = field(default=None, repr=False)
    source: str = "api"
    tags: tuple[str, ...] = ()
    group: str | None = None
    template: dict | None = None
    cache: bool = False
    full: bool = False
    budget: Budget = field(default=Budget(), repr=False, compare=False)  # checked again as it is reserved

    @property
    def n(self) -> int:
        return int(self.body.get("n", 1))

    @property
    def streamed(self) -> bool:
        return self.body.get("stream") is True

    @property
    def options(self) -> dict:
        """What was asked besides model and prompt (recorded in the history)."""
        return {k: v for k, v in self.body.items() if k not in ("model", "prompt")}

    @property
    def input_digests(self) -> tuple[str, ...]:
        return tuple(hashlib.sha256(f[1]).hexdigest()[:16] for f in self.images)

    @property
    def mask_digest(self) -> str | None:
        return hashlib.sha256(self.mask[1]).hexdigest()[:16] if self.mask else None

    def cache_key(self) -> str:
        inputs = [f[1] for f in (*self.images, *((self.mask,) if self.mask else ()))]
        return cache_key(self.endpoint, self.target.where, self.model, self.prompt, self.options, inputs)


def build_request(config, history, prompt: str, *, endpoint: str = "generations", images: Sequence | None = None,
                  mask: Any = None, source: str = "api", tags: Any = (), group: str | None = None,
                  template: dict | None = None, demo: bool | None = None, cache: bool | None = None,
                  full: bool = False, profile: str | None = None, reserved: int = 0, **options: Any) -> Request:
    """Validate everything and build a Request; ConfigurationError before any I/O."""
    if endpoint not in registry.ENDPOINTS:
        raise ConfigurationError(f"unknown endpoint {endpoint!r}: use generations or edits")
    if endpoint == "generations" and (images or mask is not None):
        raise ConfigurationError("images and mask belong to edits: use edit(image, prompt, mask=...)")
    defaults = {"size": config.size, "n": config.n, "quality": config.quality, "output_format": config.output_format}
    if endpoint == "edits":
        defaults.pop("size")  # an edit keeps the input's size unless a size is asked for
    chosen = active_profile(config, profile)  # read once: its defaults, target, cache and image limit
    defaults.update(chosen.defaults if chosen else {})
    merged = {**defaults, **{k: v for k, v in options.items() if v is not None}}
    model = merged.pop("model", None) or config.model
    problems = []
    try:
        body = registry.build_generation_payload(prompt, model=model, endpoint=endpoint, **merged)
    except ConfigurationError as exc:
        problems.extend(registry.problems_of(exc))
    try:
        request_tags = _tags(tags)
    except ConfigurationError as exc:
        problems.extend(registry.problems_of(exc))
    registry.raise_problems(problems)  # every option problem at once, before the key is looked at
    target = resolve_target(config, demo=demo, profile=chosen)
    loaded, mask_file = load_edit_inputs(images, mask) if endpoint == "edits" else ((), None)
    if cache is None and chosen is not None:
        cache = chosen.cache
    use_cache = config.cache if cache is None else cache
    budget = Budget(chosen.max_images if chosen and chosen.max_images else config.max_images,
                    config.max_cost, config.prices or None)
    request = Request(endpoint, body["prompt"], body["model"], body, target, loaded, mask_file, source,
                      request_tags, group, template, bool(use_cache), full, budget)
    budget.check(history, request.n, reserved=reserved)  # early and clear; the session checks again as it reserves
    return request


def _tags(tags: Any) -> tuple[str, ...]:
    """One tag or a list of tags, as a tuple of strings."""
    if isinstance(tags, str):
        return (tags,)
    try:
        return tuple(str(t) for t in tags)
    except TypeError:
        raise ConfigurationError(f"tags must be a tag or a list of tags; got {type(tags).__name__}") from None
