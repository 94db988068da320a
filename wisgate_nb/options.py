"""The image options, each declared once: the registry every front door is built from.

An :class:`Option` says what a request option is called, what values it takes, its magic and CLI
flag, its help line, where the panel shows it, whether profiles may set it and whether it has its own
history column. From ``OPTIONS`` derive: the validation below (the Python API), the magic's and the
CLI's arguments and help, the panel's form, profiles' allowed keys, the comparison's labels and the
"parameters" text of image files' provenance (``image_options``).
Adding an option to every front door is one entry here.

Pure functions, no I/O; this module imports neither Pillow nor httpx. Numbers may be given as ints
or strings of digits (``n="2"``), because they often come from a command line or a text box; bools
and floats are refused. Every problem of a call is reported at once, in one ConfigurationError.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .errors import ConfigurationError
from .values import DIGITS_RE, MAX_SIDE, MIN_SIDE, check_chars, open_value, parse_size, suggest, validate_prompt
from .values import show as _show

MAX_EDIT_IMAGES = 16
# Models this release knows (a dated snapshot, "gpt-image-2-2026-04-21", is known too); others are sent with a warning
KNOWN_MODELS = ("gpt-image-2", "gpt-image-1.5", "gpt-image-1", "gpt-image-1-mini", "dall-e-3", "dall-e-2")
DEFAULT_PARTIALS = 2
ENDPOINTS = ("generations", "edits")


@dataclass(frozen=True)
class Option:
    """One request option, as every front door shows it."""

    name: str  # the API field, the Python keyword argument and the key in a record's params
    kind: str  # "text" | "size" | "int" | "choice" | "stream"
    help: str  # one line: %%wisgate_image?, wisgate-nb --help, the panel's tooltip
    choices: tuple[str, ...] = ()
    also: tuple[str, ...] = ()  # accepted too, not offered (older models' values)
    aliases: dict = field(default_factory=dict)
    low: int = 0
    high: int = 0
    flags: tuple[str, ...] = ()  # magic and CLI flags; default: --name-with-dashes
    metavar: str | None = None
    endpoints: tuple[str, ...] = ENDPOINTS
    panel: str = "more"  # "main": in the form's first rows; "more": under "more options"
    profile: bool = True  # a profile may set it
    column: bool = False  # its own History.df column (the others are in ``params``)
    front_door: bool = True  # False: the Python API accepts it, the magic, CLI and panel do not show it
    open: bool = False  # a choice that takes values not listed too (new models bring them), with a warning
    delivery: bool = False  # how the answer comes (streaming), not what is drawn: no comparison, no provenance
    file_label: str = ""  # its name in an image file's "parameters" text (default: see ``label``)

    @property
    def label(self) -> str:
        """Its name in an image file's "parameters" text: ``file_label``, else "Output compression" from the name."""
        return self.file_label or self.name.replace("_", " ").capitalize()

    @property
    def cli_flags(self) -> tuple[str, ...]:
        return self.flags or ("--" + self.name.replace("_", "-"),)

    def check(self, value: Any) -> Any:
        """The value normalised, or ConfigurationError saying what is allowed."""
        return _CHECKS[self.kind](self, value)


OPTIONS: tuple[Option, ...] = (
    Option("model", "text", "model name (default gpt-image-2)", flags=("-m", "--model"), metavar="MODEL",
           panel="main", column=True),
    Option("size", "size", f"WIDTHxHEIGHT, each side {MIN_SIDE}-{MAX_SIDE} px (1024x1024, 1536x1024, 1024x1536) "
           "or auto", flags=("-s", "--size"), metavar="WxH", panel="main", column=True),
    Option("n", "int", "number of images, 1-10", low=1, high=10, flags=("-n", "--n"), metavar="N", panel="main",
           column=True, file_label="Batch size"),
    Option("quality", "choice", "low, medium, high, xhigh, max or auto (unset: the server's default)",
           choices=("low", "medium", "high", "xhigh", "max", "auto"), also=("standard", "hd"),
           flags=("-q", "--quality"), metavar="Q", panel="main", column=True, open=True),
    Option("output_format", "choice", "png, jpeg or webp", choices=("png", "jpeg", "webp"), aliases={"jpg": "jpeg"},
           flags=("--format",), metavar="F", panel="main", file_label="Format"),
    Option("background", "choice", "transparent, opaque or auto", choices=("transparent", "opaque", "auto"),
           metavar="B", open=True),
    Option("output_compression", "int", "compression of jpeg and webp output, 0-100 (%)", low=0, high=100,
           metavar="PCT", file_label="Compression"),
    Option("moderation", "choice", "content moderation strictness: low or auto", choices=("low", "auto"),
           metavar="M", open=True),
    Option("safety_identifier", "text", "a stable id of your end user (e.g. a hash of their login) for the "
           "provider's safety checks", metavar="ID", column=True),
    Option("input_fidelity", "choice", "edits: how closely to keep the input's features, high or low",
           choices=("high", "low"), endpoints=("edits",), metavar="F"),
    Option("stream", "stream", f"show partial images as they arrive (0-3 per image, default {DEFAULT_PARTIALS})",
           flags=("--stream",), metavar="PARTIALS", panel="main", profile=False, delivery=True),
    # Accepted by the Python API and sent as given; not worth a flag or a control.
    Option("partial_images", "int", "partial images per image when streaming, 0-3", low=0, high=3,
           front_door=False, profile=False, delivery=True),
    Option("user", "text", "an end-user id for the provider's abuse monitoring", front_door=False),
    Option("style", "choice", "dall-e-3 only: vivid or natural", choices=("vivid", "natural"), front_door=False),
    Option("response_format", "choice", "dall-e only: url or b64_json", choices=("url", "b64_json"),
           front_door=False),
)
BY_NAME = {o.name: o for o in OPTIONS}
FRONT_DOOR = tuple(o for o in OPTIONS if o.front_door)
GENERATION_FIELDS = tuple(o.name for o in OPTIONS if o.name != "model")
PROFILE_KEYS = tuple(o.name for o in OPTIONS if o.profile)


def image_options() -> tuple[Option, ...]:
    """The options that shape an image (not how it is delivered), in the registry's order with ``n``, how many,
    after what each image is (``a fox (quality=low, n=1)``): what comparisons and image files' provenance show.
    Read at each call, so a new entry in ``OPTIONS`` appears there too."""
    return tuple(sorted((o for o in OPTIONS if not o.delivery), key=lambda o: o.name == "n"))



# -- checks by kind ---------------------------------------------------------------------------

def _check_text(option: Option, value: Any) -> str:
    if not isinstance(value, str) or (option.name == "model" and not value.strip()):
        what = "a non-empty model name" if option.name == "model" else "text"
        raise ConfigurationError(f"{option.name} must be {what}; got {_show(value)}")
    if option.name != "model":
        return check_chars(option.name, value)
    model = check_chars("model", value.strip())
    if not any(model == known or model.startswith(known + "-") for known in KNOWN_MODELS):
        open_value("model", model, KNOWN_MODELS)
    return model


def _check_size(option: Option, value: Any) -> str:
    size = parse_size(value)
    return "auto" if size is None else f"{size[0]}x{size[1]}"


def _check_int(option: Option, value: Any) -> int:
    allowed = f"{option.name} must be a whole number from {option.low} to {option.high}"
    if isinstance(value, str) and DIGITS_RE.fullmatch(value.strip()):
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not option.low <= value <= option.high:
        raise ConfigurationError(f"{allowed}; got {_show(value)}")
    return value


def _check_choice(option: Option, value: Any) -> str:
    allowed = f"{option.name} must be one of {', '.join(option.choices)}"
    if option.also:
        allowed += f" (older models also take {', '.join(option.also)})"
    if not isinstance(value, str):
        raise ConfigurationError(f"{allowed}; got {_show(value)}")
    text = value.strip().lower()
    text = option.aliases.get(text, text)
    if text not in option.choices + option.also and option.open and text and text.isprintable():
        return open_value(option.name, text, option.choices)
    if text not in option.choices + option.also:
        raise ConfigurationError(f"{allowed}; got {_show(value)}{suggest(text, option.choices)}")
    return text


def _check_stream(option: Option, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigurationError(f"stream must be True or False; got {_show(value)}")
    return value


_CHECKS = {"text": _check_text, "size": _check_size, "int": _check_int, "choice": _check_choice,
           "stream": _check_stream}


def argparse_spec(option: Option) -> tuple[tuple[str, ...], dict]:
    """(flags, add_argument keywords) of an option, for the magic's and the CLI's parsers alike."""
    kwargs: dict[str, Any] = {"dest": option.name, "default": None, "metavar": option.metavar,
                              "help": option.help.replace("%", "%%")}
    if option.kind == "stream":
        kwargs.update(nargs="?", const=DEFAULT_PARTIALS)
    return option.cli_flags, kwargs


# -- validation -------------------------------------------------------------------------------

def validate_options(endpoint: str | None = None, **options: Any) -> dict:
    """A new dict of the options: known ones checked and normalised, None dropped, unknown kept.

    With ``endpoint``, an option of the other endpoint (``input_fidelity`` on a generation) is refused.
    Every problem is reported together in one ConfigurationError.
    """
    clean: dict[str, Any] = {}
    problems: list[str] = []
    for name, value in options.items():
        if value is None:
            continue
        option = BY_NAME.get(name)
        if option is None:
            clean[name] = value
            continue
        if endpoint is not None and endpoint not in option.endpoints:
            problems.append(f"{name} applies to {' and '.join(option.endpoints)} only, not to {endpoint}")
            continue
        try:
            clean[name] = option.check(value)
        except ConfigurationError as exc:
            problems.append(str(exc))
    raise_problems(problems)
    return clean


def raise_problems(problems: Iterable[str]) -> None:
    """One ConfigurationError for every problem found (nothing if there are none); ``.problems`` lists them."""
    problems = list(dict.fromkeys(problems))
    if not problems:
        return
    if len(problems) == 1:
        error = ConfigurationError(problems[0])
    else:
        error = ConfigurationError(f"{len(problems)} problems, nothing was sent:\n" +
                                   "\n".join(f"  - {p}" for p in problems))
    error.problems = problems
    raise error


def problems_of(exc: ConfigurationError) -> list[str]:
    """The separate problems an error reports (one, or those of :func:`raise_problems`)."""
    return list(getattr(exc, "problems", None) or [str(exc)])


def stream_options(stream: Any) -> dict:
    """``stream=True`` / a number of partials -> the API's ``stream`` and ``partial_images`` fields."""
    if stream is None or stream is False:
        return {}
    if stream is True:
        return {"stream": True, "partial_images": DEFAULT_PARTIALS}
    if isinstance(stream, str) and DIGITS_RE.fullmatch(stream.strip()):
        stream = int(stream)
    if isinstance(stream, int) and not isinstance(stream, bool):
        return {"stream": True, "partial_images": _check_int(BY_NAME["partial_images"], stream)}
    raise ConfigurationError(f"stream must be True, False or a number of partial images (0-3); got {_show(stream)}")


def check_edit_images(count: int, *, has_mask: bool = False) -> None:
    """ConfigurationError unless an edit has 1 to 16 images (a mask needs an image to apply to)."""
    if count < 1:
        if has_mask:
            raise ConfigurationError("a mask was given without an image: pass the image to edit too")
        raise ConfigurationError("an edit needs at least one image (a path, bytes, a PIL image or a result)")
    if count > MAX_EDIT_IMAGES:
        raise ConfigurationError(f"an edit takes at most {MAX_EDIT_IMAGES} images; got {count}")


def build_generation_payload(prompt: str, *, model: str, endpoint: str | None = None, **options: Any) -> dict:
    """The JSON body of ``POST /images/generations`` (or an edit's fields); unset (None) options are left out.

    Every problem — model, prompt, options — is reported together.
    """
    problems, clean = [], {}
    for check in (lambda: _check_text(BY_NAME["model"], model), lambda: validate_prompt(prompt),
                  lambda: clean.update(validate_options(endpoint, **options))):
        try:
            check()
        except ConfigurationError as exc:
            problems.extend(problems_of(exc))
    raise_problems(problems)
    return {"model": model.strip(), "prompt": prompt, **clean}


def form_fields(body: dict) -> dict[str, str]:
    """An edit's multipart text fields from its body (``build_generation_payload(..., endpoint="edits")``):
    unset (None) left out, bools as ``"true"``/``"false"``, lists and dicts as JSON, the rest as text."""
    return {name: _form_value(value) for name, value in body.items() if value is not None}


def _form_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, separators=(",", ":"), default=str)
    return str(value)
