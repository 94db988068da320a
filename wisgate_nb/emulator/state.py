"""The emulator's settings, its fault schedule and the record of requests it received."""

from __future__ import annotations

import random
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Any

__all__ = ["FAULT_KINDS", "PROXY", "Emulator", "EmulatorConfig", "Fault", "RecordedRequest"]

FAULT_KINDS = frozenset(
    {
        "status",
        "drop",
        "slow",
        "slow_body",
        "html",
        "bad_json",
        "no_images",
        "truncated_b64",
        "undecodable",
        "bomb",
        "huge",
        "url_404",
        "url_scheme",
        "stream_no_complete",
        "stream_error",
        "quota",
    }
)

RECORD_KEY = "wisgate_nb.emulator.record"  # ASGI scope key of the request's RecordedRequest

# Header names whose values never reach the record (the API key above all).
_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "api-key", "x-api-key", "cookie"})
_MAX_STORED_FILES = 64


@dataclass
class EmulatorConfig:
    """How one emulator behaves: latency, determinism, auth, moderation and random faults."""

    latency: float | tuple[float, float] = 0.0  # seconds before answering; a tuple = uniform random range
    seed: int = 0
    require_key: str | None = None  # if set, "Authorization: Bearer <key>" must match, else 401
    moderation_words: tuple[str, ...] = (
        "forbidden",
    )  # case-insensitive substrings -> 400 moderation_blocked
    noise: bool = False  # incompressible images (random noise texture) for benchmarks
    fault_rate: float = 0.0  # probability per image request of a random 429/500/503 (seeded rng)
    demo_mark: bool = True
    # What an OpenAI-compatible proxy in front of the API does (see proxy.py; PROXY turns them all on):
    request_id_header: str | None = "x-request-id"  # the header carrying the request id; None: no id header
    codes_as_status: bool = False  # error envelopes' "code" rewritten to the status as a string ("500")
    retry_after: bool = True  # False: Retry-After and retry-after-ms are stripped from every answer
    stream_500: bool = False  # streamed requests are drawn (and billed) upstream, then answered 500, ~76 KB JSON
    cooldown: float = 0.0  # seconds every image request is refused (429) after a 429 or 5xx from upstream
    quota_images: int | None = None  # images the key may make; past that: 429 insufficient_quota
    # An account's rate limit (see limits.py): requests / images per window, 429 past them
    rpm: int | None = None
    ipm: int | None = None
    rate_window: float = 60.0  # seconds
    ratelimit_headers: bool = True  # False: the 429 alone, no x-ratelimit-* nor retry-after

    def __repr__(self) -> str:
        key = None if self.require_key is None else "'***'"
        return (
            f"EmulatorConfig(latency={self.latency!r}, seed={self.seed!r}, require_key={key}, "
            f"moderation_words={self.moderation_words!r}, noise={self.noise!r}, "
            f"fault_rate={self.fault_rate!r}, demo_mark={self.demo_mark!r}, "
            f"request_id_header={self.request_id_header!r}, codes_as_status={self.codes_as_status!r}, "
            f"retry_after={self.retry_after!r}, stream_500={self.stream_500!r}, cooldown={self.cooldown!r}, "
            f"quota_images={self.quota_images!r}, rpm={self.rpm!r}, ipm={self.ipm!r}, "
            f"rate_window={self.rate_window!r}, ratelimit_headers={self.ratelimit_headers!r})"
        )

    @property
    def proxied(self) -> bool:
        """True when a proxy behaviour bends answers (the proxy layer is skipped otherwise)."""
        return self.codes_as_status or self.stream_500 or self.cooldown > 0 or self.quota_images is not None


# A widely used open-source OpenAI-compatible proxy, as met in front of the API (issue 15): its own call
# id header instead of x-request-id, the status as the error code, no Retry-After, 500 to streamed
# requests, and a 5 s cooldown after an upstream failure. ``EmulatorConfig(**PROXY)``, ``--proxy``.
PROXY = {
    "request_id_header": "x-litellm-call-id",
    "codes_as_status": True,
    "retry_after": False,
    "stream_500": True,
    "cooldown": 5.0,
}


@dataclass(frozen=True)
class Fault:
    """One misbehaviour for one request; see the package docstring for what each kind does.

    ``status`` is the HTTP status for ``"status"`` and ``"html"`` (an ``"html"`` fault left at the
    default 500 answers 502 Bad Gateway, like a proxy in front of a dead upstream).
    """

    kind: str
    status: int = 500
    retry_after: float | None = None  # seconds, sent as Retry-After with the "status" kind
    delay: float = 0.0  # seconds, for "slow" (before the headers) and "slow_body" (spread over the body)
    size_mb: float = 200.0  # body size for "huge"
    message: str | None = None  # overrides the error message of "status" and "stream_error"

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {sorted(FAULT_KINDS)}")
        if not 100 <= self.status <= 599:
            raise ValueError(f"fault status must be an HTTP status code, got {self.status!r}")


@dataclass
class RecordedRequest:
    """What the emulator saw of one request: never file bytes, never the API key."""

    method: str
    path: str
    headers: dict[str, str]
    timestamp: float
    request_id: str
    json: Any = None  # the parsed JSON body, if the request had one
    form: dict[str, Any] | None = None  # multipart fields; files as {"filename", "size", "content_type", "sha256"}
    status: int | None = None  # the status the emulator answered with
    fault: str | None = None  # the kind of fault injected into this request, if any

    @property
    def body(self) -> Any:
        """The JSON body or the form fields, whichever the request carried."""
        return self.json if self.form is None else self.form


def redact_headers(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    """Headers as a dict with lower-case names and every secret value replaced."""
    headers: dict[str, str] = {}
    for name_b, value_b in raw:
        name = name_b.decode("latin-1").lower()
        value = value_b.decode("latin-1")
        if name in _SECRET_HEADERS:
            scheme = value.split(" ", 1)[0] if " " in value else ""
            value = f"{scheme} [REDACTED]".strip()
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return headers


class Emulator:
    """The state behind one emulator app (``app.state.emulator``): config, faults, recorded requests."""

    def __init__(self, config: EmulatorConfig | None = None) -> None:
        self.config = config if config is not None else EmulatorConfig()
        self.requests: list[RecordedRequest] = []
        self._faults: deque[Fault] = deque()
        self._lock = threading.Lock()
        self._rng = random.Random(self.config.seed)
        self._files: OrderedDict[str, tuple[bytes, str]] = OrderedDict()
        self.generations = 0  # requests the upstream drew images for (each one billed by a real API)
        self.images_generated = 0
        self._cooldown_until = 0.0
        self.in_flight = 0  # requests whose handler has not returned yet (tests wait for 0)
        self.rate_windows: dict[str, list[float]] = {}  # limits.py: per dimension, [opened at, used]

    def __repr__(self) -> str:
        return f"<Emulator requests={len(self.requests)} pending_faults={len(self._faults)} {self.config!r}>"

    def schedule(self, *faults: Fault) -> None:
        """Queue faults: each following request to an /images/* endpoint consumes one, in order."""
        for fault in faults:
            if not isinstance(fault, Fault):
                raise TypeError(f"schedule() takes Fault objects, got {type(fault).__name__}")
        with self._lock:
            self._faults.extend(faults)

    def reset(self) -> None:
        """Forget recorded requests, pending faults and served files; restart the seeded rng."""
        with self._lock:
            self.requests.clear()
            self._faults.clear()
            self._files.clear()
            self._rng = random.Random(self.config.seed)
            self.generations = self.images_generated = 0
            self._cooldown_until = 0.0
            self.rate_windows.clear()

    @property
    def pending_faults(self) -> tuple[Fault, ...]:
        with self._lock:
            return tuple(self._faults)

    @property
    def image_requests(self) -> list[RecordedRequest]:
        """Only the POSTs to /images/* endpoints."""
        return [r for r in self.requests if r.method == "POST" and "/images/" in r.path]

    # -- used by the app ------------------------------------------------------------------------

    def record(
        self, method: str, path: str, raw_headers: list[tuple[bytes, bytes]], request_id: str
    ) -> RecordedRequest:
        rec = RecordedRequest(method, path, redact_headers(raw_headers), time.time(), request_id)
        self.requests.append(rec)
        return rec

    def next_fault(self) -> Fault | None:
        """The scheduled fault for this request, else a random one with probability ``fault_rate``."""
        with self._lock:
            if self._faults:
                return self._faults.popleft()
            if self.config.fault_rate > 0 and self._rng.random() < self.config.fault_rate:
                return self._rng.choice(
                    (Fault("status", 429, retry_after=1.0), Fault("status", 500), Fault("status", 503))
                )
        return None

    def count_generation(self, images: int) -> None:
        """An accepted image request is being drawn: what a real API bills, whatever happens next."""
        with self._lock:
            self.generations += 1
            self.images_generated += images

    def start_cooldown(self, seconds: float) -> None:
        with self._lock:
            self._cooldown_until = max(self._cooldown_until, time.monotonic() + seconds)

    def cooldown_left(self) -> float:
        """Seconds the proxy still refuses every image request (0 when it lets them through)."""
        with self._lock:
            return max(0.0, self._cooldown_until - time.monotonic())

    def latency(self) -> float:
        """Seconds to wait before answering this request."""
        lat = self.config.latency
        if isinstance(lat, tuple):
            low, high = lat
            with self._lock:
                return self._rng.uniform(low, high)
        return float(lat)

    def store_file(self, name: str, data: bytes, media_type: str) -> None:
        with self._lock:
            self._files[name] = (data, media_type)
            while len(self._files) > _MAX_STORED_FILES:
                self._files.popitem(last=False)

    def get_file(self, name: str) -> tuple[bytes, str] | None:
        with self._lock:
            return self._files.get(name)
