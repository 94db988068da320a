"""One Session per kernel: settings, the engine, the client, the history and the jobs.

Front doors (magic, panel, api, cli) call ``prepare`` on the main thread — every check happens
there, before anything is submitted — then ``run`` (blocking, interruptible) or ``submit``
(returns a Future at once). ``execute`` runs on the engine loop and always ends in the history.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import params as params_mod
from . import render
from .config import Secret, WisGate, hub_api_token
from .engine import Engine, wait
from .errors import BudgetExceededError, ConfigurationError, WisGateError
from .generation import Generation
from .history import History, Record, new_id, now_iso

DEMO_BASE_URL = "http://demo.wisgate.invalid/v1"
NO_KEY_MESSAGE = (
    "No API key is set. Three ways to go on:\n"
    "  1. set WISGATE_API_KEY (or WISDOM_GATE_KEY) in the environment before starting Jupyter;\n"
    "  2. run %wisgate_key in a cell and paste the key (kept in memory only);\n"
    "  3. use demo mode, no key needed: WISGATE_DEMO=1, wisgate_nb.configure(demo=True) or --demo."
)
HUB_AUTH_MESSAGE = (
    "hub_auth is on (WISGATE_HUB_AUTH=1) but $JUPYTERHUB_API_TOKEN is not set: it works only inside a "
    "JupyterHub server. Set a key with %wisgate_key, or %config WisGate.hub_auth = False."
)
_EXT = {"jpeg": "jpg", "png": "png", "webp": "webp", "gif": "gif"}


@dataclass(frozen=True)
class Target:
    """Where a request goes: never shows the key."""

    base_url: str
    api_key: Secret | None
    demo: bool
    timeout: float
    max_retries: int
    demo_latency: float = 0.0
    profile: str | None = None


@dataclass(frozen=True)
class Request:
    """A validated request, ready to send."""

    endpoint: str  # "generations" | "edits"
    prompt: str
    model: str
    body: dict  # JSON payload (generations) or multipart text fields (edits)
    target: Target
    images: tuple = field(default=(), repr=False)  # ((filename, bytes, mime), ...)
    mask: tuple | None = field(default=None, repr=False)
    source: str = "api"
    tags: tuple[str, ...] = ()
    group: str | None = None
    template: dict | None = None
    cache: bool = False
    full: bool = False

    @property
    def n(self) -> int:
        return int(self.body.get("n", 1))

    @property
    def options(self) -> dict:
        """What was asked besides model and prompt (recorded in the history)."""
        return {k: v for k, v in self.body.items() if k not in ("model", "prompt")}

    def cache_key(self) -> str:
        options = {k: v for k, v in self.options.items() if k not in ("stream", "partial_images")}
        where = "demo" if self.target.demo else self.target.base_url.rstrip("/")
        digest = hashlib.sha256()
        digest.update(json.dumps([self.endpoint, where, self.model, self.prompt, options], sort_keys=True,
                                 default=str).encode())
        for _name, data, _mime in (*self.images, *((self.mask,) if self.mask else ())):
            digest.update(hashlib.sha256(data).digest())
        return digest.hexdigest()[:32]


class Session:
    """Everything one kernel needs to generate images."""

    def __init__(self, config: WisGate | None = None, *, engine: Engine | None = None,
                 history: History | None = None):
        self.config = config or WisGate()
        self.engine = engine or Engine()
        self._history = history
        self._clients: dict[Target, Any] = {}
        self._demo_http: list = []  # httpx clients of demo mode, closed by close()
        self._lock = threading.Lock()
        self._reserved_images = 0
        self.last: Generation | None = None
        self._demo_announced = False
        self._semaphore: asyncio.Semaphore | None = None
        self._semaphore_key: tuple | None = None

    # -- state ---------------------------------------------------------------------------
    @property
    def history(self) -> History:
        with self._lock:
            if self._history is None:
                self._history = History.create(self.config.history_dir)
            return self._history

    def target(self, *, demo: bool | None = None, base_url: str | None = None, profile: str | None = None) -> Target:
        """Where requests go now; raises the no-key message when there is neither key nor demo."""
        from .profiles import active_profile

        cfg = self.config
        profile = active_profile(cfg, profile)
        demo = cfg.demo if demo is None else demo
        if profile is not None and profile.demo:
            demo = True
        if demo:
            return Target(DEMO_BASE_URL, None, True, cfg.timeout, cfg.max_retries, cfg.demo_latency,
                          profile.name if profile else None)
        key = cfg.api_key
        url = base_url or cfg.base_url
        if profile is not None:
            key = profile.key(cfg)
            url = base_url or profile.base_url or url
        if key is None and cfg.hub_auth:  # a classroom gateway run as a JupyterHub service
            key = hub_api_token()
            if key is None:
                raise ConfigurationError(HUB_AUTH_MESSAGE)
        if key is None:
            raise ConfigurationError(NO_KEY_MESSAGE)
        return Target(url.rstrip("/"), key, False, cfg.timeout, cfg.max_retries, profile=profile.name if profile else None)

    def announce_demo(self) -> str | None:
        """A one-time notice that results are demo images."""
        if self._demo_announced:
            return None
        self._demo_announced = True
        return ("wisgate_nb demo mode: images are drawn by the embedded demo server, "
                "with no key and no network. Set a key and demo=False for real images.")

    # -- building requests (main thread, before anything is sent) --------------------------
    def prepare(self, prompt: str, *, endpoint: str = "generations", images: Sequence | None = None,
                mask: Any = None, source: str = "api", tags: Sequence[str] = (), group: str | None = None,
                template: dict | None = None, demo: bool | None = None, cache: bool | None = None,
                full: bool = False, profile: str | None = None, **options: Any) -> Request:
        """Validate everything and build a Request; raises ConfigurationError before any I/O."""
        from .profiles import profile_cache, profile_defaults

        cfg = self.config
        if not isinstance(prompt, str):
            raise ConfigurationError(f"the prompt must be text, got {type(prompt).__name__}")
        defaults = {"size": cfg.size, "n": cfg.n, "quality": cfg.quality, "output_format": cfg.output_format}
        if endpoint == "edits":
            defaults.pop("size")  # an edit keeps the input's size unless a size is asked for
        defaults.update(profile_defaults(cfg, profile))
        merged = {**defaults, **{k: v for k, v in options.items() if v is not None}}
        model = merged.pop("model", None) or cfg.model
        target = self.target(demo=demo, profile=profile)
        _check_target(target)
        if endpoint == "generations":
            if images or mask is not None:
                raise ConfigurationError("images and mask belong to edits: use edit(image, prompt, mask=...)")
            body = params_mod.build_generation_payload(prompt, model=model, **merged)
            loaded: tuple = ()
            mask_file = None
        elif endpoint == "edits":
            if not images:
                raise ConfigurationError("an edit needs at least one image (a path, bytes, a PIL image or a result)")
            if len(images) > 16:
                raise ConfigurationError(f"an edit takes at most 16 images, got {len(images)}")
            params_mod.build_edit_fields(prompt, model=model, **merged)  # refuses a bad prompt or option now
            body = {"model": model, "prompt": prompt, **params_mod.validate_options(**merged)}
            loaded = tuple(_load_image(img) for img in images)
            mask_file = _load_image(mask, default_name="mask.png") if mask is not None else None
            if mask_file is not None:
                _check_mask(loaded[0], mask_file)
        else:
            raise ConfigurationError(f"unknown endpoint {endpoint!r}: use generations or edits")
        if cache is None:
            cache = profile_cache(cfg, profile)
        use_cache = cfg.cache if cache is None else cache
        request = Request(endpoint, body["prompt"], model, body, target, loaded, mask_file, source,
                          _tags(tags), group, template, bool(use_cache), full)
        self._check_budget(request, profile)
        return request

    def _check_budget(self, request: Request, profile_name: str | None = None) -> None:
        from .profiles import active_profile

        cfg = self.config
        profile = active_profile(cfg, profile_name)
        limit = profile.max_images if profile and profile.max_images else cfg.max_images
        if limit:
            used = self.history.totals()["images"] + self._reserved_images
            if used + request.n > limit:
                raise BudgetExceededError(
                    f"this session's image budget is used up: {used} of max_images={limit} images, and this request "
                    f"asks for {request.n} more. Raise it with %config WisGate.max_images = N (0 = no limit)."
                )
        if cfg.max_cost and cfg.prices:
            spent = self.history.totals(cfg.prices)["cost"] or 0.0
            if spent >= cfg.max_cost:
                raise BudgetExceededError(
                    f"the estimated cost so far ({spent:.2f}) has reached max_cost={cfg.max_cost:g}. "
                    "Raise it with %config WisGate.max_cost = X (0 = no limit)."
                )

    # -- running -------------------------------------------------------------------------
    def run(self, request: Request, *, on_partial: Callable | None = None,
            on_status: Callable | None = None) -> Generation:
        """Send and wait; a kernel interrupt cancels the request and records it as cancelled."""
        return wait(self.submit(request, on_partial=on_partial, on_status=on_status))

    def submit(self, request: Request, *, on_partial: Callable | None = None,
               on_status: Callable | None = None) -> Future:
        """Send in the background; returns a concurrent Future of the Generation."""
        self._reserve(request.n)
        return self.engine.submit(self.execute(request, on_partial=on_partial, on_status=on_status, reserved=True))

    def run_many(self, requests: Sequence[Request], *, on_done: Callable | None = None) -> list:
        """Send several requests concurrently (max_concurrency); results or exceptions, in order."""
        return wait(self.submit_many(requests, on_done=on_done))

    def submit_many(self, requests: Sequence[Request], *, on_done: Callable | None = None) -> Future:
        total = sum(r.n for r in requests)
        self._reserve(total)
        return self.engine.submit(self._gather(list(requests), on_done))

    async def _gather(self, requests: list[Request], on_done: Callable | None) -> list:
        async def one(index: int, request: Request):
            try:
                result = await self.execute(request, reserved=True)
            except WisGateError as exc:
                result = exc
            if on_done is not None:
                _safe_call(on_done, index, result)
            return result

        return await asyncio.gather(*(one(i, r) for i, r in enumerate(requests)))

    def _slots(self) -> asyncio.Semaphore:
        """The session's request slots on the running engine loop (made again if the loop or limit changed)."""
        key = (id(asyncio.get_running_loop()), self.config.max_concurrency)
        if self._semaphore is None or self._semaphore_key != key:
            self._semaphore, self._semaphore_key = asyncio.Semaphore(self.config.max_concurrency), key
        return self._semaphore

    def _reserve(self, images: int) -> None:
        with self._lock:
            self._reserved_images += images

    def _release(self, images: int) -> None:
        with self._lock:
            self._reserved_images = max(0, self._reserved_images - images)

    async def execute(self, request: Request, *, on_partial: Callable | None = None,
                      on_status: Callable | None = None, reserved: bool = False) -> Generation:
        """Send one request on the engine loop and record how it ended, whatever happens."""
        record_id = new_id()
        started_at, t0 = now_iso(), time.perf_counter()
        cache_key = request.cache_key()
        base = dict(id=record_id, session=self.history.session or "", started_at=started_at,
                    prompt=request.prompt, model=request.model, endpoint=request.endpoint,
                    size=request.body.get("size"), n=request.n, quality=request.body.get("quality"),
                    params=request.options, tags=request.tags, source=request.source, demo=request.target.demo,
                    profile=request.target.profile, group=request.group, template=request.template,
                    inputs=tuple(hashlib.sha256(f[1]).hexdigest()[:16] for f in request.images),
                    cache_key=cache_key)
        try:
            if request.cache:
                reused = self.history.find_reusable(cache_key)
                if reused is not None:
                    return await asyncio.to_thread(self._reuse, reused, base, t0, request)
            client = self._client(request.target)
            async with self._slots():  # at most max_concurrency requests in flight per session
                if request.endpoint == "generations":
                    response = await client.generate(request.body, on_partial=on_partial, on_status=on_status)
                else:
                    fields = params_mod.build_edit_fields(request.prompt, **{k: v for k, v in request.body.items()
                                                                             if k != "prompt"})
                    response = await client.edit(fields, list(request.images), request.mask, on_partial=on_partial,
                                                 on_status=on_status)
            latency = time.perf_counter() - t0
            # One thread per image (Pillow lets go of the GIL while it resizes and encodes), from the
            # pixels the client already decoded.
            small = await asyncio.gather(*(
                asyncio.to_thread(render.thumbnail_bytes, blob.decoded or blob.data, self.config.thumbnail_px)
                for blob in response.images))
            generation = await asyncio.to_thread(self._save, response, base, latency, request, small)
            self.last = generation
            return generation
        except asyncio.CancelledError:
            self._record_failure(base, t0, "cancelled", "cancelled by the user", "Cancelled", None)
            raise
        except WisGateError as exc:
            self._record_failure(base, t0, "error", str(exc), type(exc).__name__, getattr(exc, "request_id", None))
            exc.record_id = record_id  # lets a front door point at the history row
            raise
        except Exception as exc:  # a bug of ours: still recorded, then surfaced as is
            self._record_failure(base, t0, "error", f"{type(exc).__name__}: {exc}", type(exc).__name__, None)
            raise
        finally:
            if reserved:
                self._release(request.n)

    def _record_failure(self, base: dict, t0: float, status: str, message: str, error_type: str,
                        request_id: str | None) -> None:
        record = Record(**base, status=status, latency_s=time.perf_counter() - t0, error=message,
                        error_type=error_type, request_id=request_id)
        self.history.append(record)

    def _save(self, response, base: dict, latency: float, request: Request, small: list) -> Generation:
        history = self.history
        blobs = response.images
        paths, thumbs = [], []
        for i, blob in enumerate(blobs):
            path = history.image_path(base["id"], i, _EXT.get(blob.format, "png"))
            path.write_bytes(blob.data)
            thumb_data, mime = small[i]
            thumb = path.with_name(f"{path.stem}.thumb.{'webp' if mime == 'image/webp' else 'jpg'}")
            thumb.write_bytes(thumb_data)
            paths.append(path)
            thumbs.append(thumb)
        usage = response.usage if isinstance(response.usage, dict) else None
        total_tokens = usage.get("total_tokens") if usage else None
        size = base["size"] or response.meta.get("size")
        if size in (None, "auto") and blobs:
            size = f"{blobs[0].width}x{blobs[0].height}"
        record = Record(**{**base, "size": size, "quality": base["quality"] or response.meta.get("quality")},
                        status="ok", latency_s=latency, images=len(blobs),
                        paths=tuple(p.name for p in paths), thumbs=tuple(t.name for t in thumbs),
                        request_id=response.request_id, usage=usage,
                        total_tokens=total_tokens if isinstance(total_tokens, int) else None,
                        revised_prompts=tuple(b.revised_prompt for b in blobs), attempts=response.attempts)
        history.append(record)
        return Generation(record, tuple(paths), tuple(thumbs), tuple(b.data for b in blobs), full=request.full)

    def _reuse(self, old: Record, base: dict, t0: float, request: Request) -> Generation:
        history = self.history
        folder = history.ensure_folder()
        names = []
        for src in history.full_paths(old) + history.thumb_paths(old):
            names.append(src.name.replace(old.id, base["id"], 1))
            _link_or_copy(src, folder / names[-1])
        paths, thumbs = names[: len(old.paths)], names[len(old.paths):]
        record = Record(**{**base, "size": old.size, "quality": old.quality}, status="ok",
                        latency_s=time.perf_counter() - t0, images=old.images, paths=tuple(paths),
                        thumbs=tuple(thumbs), request_id=old.request_id, usage=old.usage, total_tokens=0,
                        revised_prompts=old.revised_prompts, reused=True)
        history.append(record)
        generation = Generation(record, tuple(folder / p for p in paths), tuple(folder / t for t in thumbs),
                                full=request.full)
        self.last = generation
        return generation

    def _client(self, target: Target):
        """One ImagesClient (one connection pool) per target, created on the engine loop."""
        client = self._clients.get(target)
        if client is None:
            from .client import ImagesClient

            http_client = None
            if target.demo:
                import httpx

                from .emulator import EmulatorConfig, create_app
                from .emulator.transport import StreamingASGITransport

                app = create_app(EmulatorConfig(latency=target.demo_latency))
                http_client = httpx.AsyncClient(transport=StreamingASGITransport(app), timeout=target.timeout)
                self._demo_http.append(http_client)
            client = ImagesClient(base_url=target.base_url, api_key=target.api_key.get() if target.api_key else None,
                                  timeout=target.timeout, max_retries=target.max_retries, http_client=http_client)
            self._clients[target] = client
        return client

    def check_endpoint(self, target: Target) -> str:
        """Whether the endpoint answers (GET /models), in words; never raises."""
        async def check() -> str:
            return await self._client(target).check()

        try:
            return wait(self.engine.submit(check()))
        except WisGateError as exc:
            return f"no: {type(exc).__name__}: {exc}"

    def close(self) -> None:
        """Close the connection pools and stop the engine thread."""
        clients, self._clients = list(self._clients.values()), {}
        demo_http, self._demo_http = self._demo_http, []

        async def _close() -> None:
            for client in clients:
                await client.aclose()
            for http in demo_http:
                await http.aclose()

        if clients:
            try:
                self.engine.submit(_close()).result(5)
            except Exception:
                pass
        self.engine.close()

    def __repr__(self) -> str:
        return f"<Session history={self._history!r} demo={self.config.demo}>"


def _safe_call(fn: Callable, *args: Any) -> None:
    try:
        fn(*args)
    except Exception:
        import logging

        logging.getLogger("wisgate_nb").warning("a result callback failed", exc_info=True)


def _tags(tags: Any) -> tuple[str, ...]:
    """One tag or a list of tags, as a tuple of strings."""
    if isinstance(tags, str):
        return (tags,)
    try:
        return tuple(str(t) for t in tags)
    except TypeError:
        raise ConfigurationError(f"tags must be a tag or a list of tags; got {type(tags).__name__}") from None


def _check_target(target: Target) -> None:
    """The client's own checks (URL, key form, timeout) now, before anything is sent or recorded."""
    from .client import ImagesClient

    ImagesClient(base_url=target.base_url, api_key=target.api_key.get() if target.api_key else None,
                 timeout=target.timeout, max_retries=target.max_retries)  # opens no connection


def _load_image(image: Any, default_name: str = "image.png") -> tuple[str, bytes, str]:
    """Accept a path, bytes, a PIL image or a Generation (its first image)."""
    from .client import load_image_input

    if isinstance(image, Generation):
        image = image.paths[0] if image.paths else image.data[0]
    return load_image_input(image, default_name=default_name)


def _check_mask(image: tuple[str, bytes, str], mask: tuple[str, bytes, str]) -> None:
    import io

    from PIL import Image

    with Image.open(io.BytesIO(image[1])) as im, Image.open(io.BytesIO(mask[1])) as mk:
        if im.size != mk.size:
            raise ConfigurationError(
                f"the mask is {mk.size[0]}x{mk.size[1]} but the image is {im.size[0]}x{im.size[1]}: "
                "a mask must have the same size as the image"
            )
        if mk.format != "PNG":
            raise ConfigurationError(f"the mask must be a PNG with transparent areas to edit, got {mk.format}")


def _link_or_copy(src: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.exists():
        return
    try:
        os.link(src, dest)
    except OSError:
        shutil.copyfile(src, dest)


# -- the kernel's session -----------------------------------------------------------------
_current: Session | None = None
_current_lock = threading.Lock()


def current() -> Session:
    """The session of this kernel (created on first use)."""
    global _current
    with _current_lock:
        if _current is None:
            _current = Session()
        return _current


def set_current(session: Session | None) -> Session | None:
    """Replace the kernel's session (tests, %reload_ext); returns the previous one."""
    global _current
    with _current_lock:
        previous, _current = _current, session
        return previous


