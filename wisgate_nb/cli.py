"""The ``wisgate-nb`` command: generate or edit images from a terminal, read a file's provenance, run the demo
server or the classroom gateway."""

from __future__ import annotations

import argparse
import os
import sys

from .errors import WisGateError
from .extras import missing
from .options import FRONT_DOOR, argparse_spec


def _image_options(parser: argparse.ArgumentParser, endpoint: str) -> None:
    """Every image option of the registry (options.OPTIONS) that applies to this endpoint."""
    for option in FRONT_DOOR:
        if endpoint in option.endpoints:
            flags, kwargs = argparse_spec(option)
            parser.add_argument(*flags, **kwargs)
    parser.add_argument("--out", default=".", help="folder to copy the images into (default: the current folder)")
    parser.add_argument("--demo", action="store_true", help="use the embedded demo server: no key, no network")
    parser.add_argument("--profile", help="a profile from pyproject.toml / wisgate_nb.toml")
    parser.add_argument("--tag", action="append", default=[], help="tag the history record")
    parser.add_argument("--dry-run", action="store_true", help="print the request that would be sent; send nothing")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wisgate-nb", description="Image generation for Jupyter, from a terminal.")
    sub = parser.add_subparsers(dest="command", required=True)

    gen = sub.add_parser("generate", help="generate images and print their paths")
    gen.add_argument("prompt", help="what to draw")
    _image_options(gen, "generations")

    edit = sub.add_parser("edit", help="edit images with a prompt (and a mask) and print the new paths")
    edit.add_argument("image", nargs="+", help="the image(s) to edit: PNG, JPEG or WebP files (up to 16)")
    edit.add_argument("prompt", help="what to change")
    edit.add_argument("--mask", help="PNG mask of the first image's size: transparent areas are edited")
    _image_options(edit, "edits")

    info = sub.add_parser("info", help="print where image files came from (the provenance wisgate_nb wrote in them)")
    info.add_argument("file", nargs="+", help="PNG, JPEG or WebP files")
    info.add_argument("--json", action="store_true", help="print the JSON, one object per file")

    emu = sub.add_parser("emulator", help="run the demo server (an OpenAI-compatible images API) on a port",
                         description="Run the demo server. The proxy options make it answer like an "
                                     "OpenAI-compatible proxy in front of the API, to try a client behind one.")
    emu.add_argument("--host", default="127.0.0.1")
    emu.add_argument("--port", type=int, default=8000)
    emu.add_argument("--latency", type=float, default=0.0, help="seconds per request")
    emu.add_argument("--require-key", default=None, help="answer 401 unless this key is sent")
    proxy = emu.add_argument_group("proxy behaviours")
    proxy.add_argument("--proxy", action="store_true",
                       help="all of the usual ones: --request-id-header x-litellm-call-id --codes-as-status "
                            "--no-retry-after --stream-500 --cooldown 5 (the options below override)")
    proxy.add_argument("--request-id-header", metavar="NAME", default=None,
                       help="send the request id under this header instead of x-request-id; 'none': no id header")
    proxy.add_argument("--codes-as-status", action="store_true", default=None,
                       help="rewrite every error's code to the HTTP status as a string (\"400\", \"429\", \"500\")")
    proxy.add_argument("--no-retry-after", dest="retry_after", action="store_false", default=None,
                       help="strip Retry-After and retry-after-ms from every answer")
    proxy.add_argument("--stream-500", action="store_true", default=None,
                       help="draw streamed requests, then answer HTTP 500 with a ~76 KB JSON error")
    proxy.add_argument("--cooldown", type=float, metavar="SECONDS", default=None,
                       help="after a 429 or 5xx, refuse every image request for this long (429, the wait "
                            "only in the message)")
    proxy.add_argument("--quota", type=int, metavar="IMAGES", dest="quota_images", default=None,
                       help="after this many images, answer 429 insufficient_quota with x-should-retry: false")
    limit = emu.add_argument_group("an account's rate limit")
    limit.add_argument("--rpm", type=int, metavar="N", default=None, help="requests per window (429 past them)")
    limit.add_argument("--ipm", type=int, metavar="N", default=None, help="images per window (429 past them)")
    limit.add_argument("--rate-window", type=float, metavar="SECONDS", default=None,
                       help="the window of --rpm and --ipm (default: 60)")
    limit.add_argument("--no-ratelimit-headers", dest="ratelimit_headers", action="store_false", default=None,
                       help="answer the 429 alone: no x-ratelimit-* headers, no retry-after")

    from .gateway.cli import add_parser as add_gateway_parser

    add_gateway_parser(sub)
    return parser


def emulator_config(args):
    """The EmulatorConfig the emulator options ask for (--proxy first, then each option given)."""
    from .emulator import PROXY, EmulatorConfig

    settings = dict(PROXY) if args.proxy else {}
    for name in ("request_id_header", "codes_as_status", "retry_after", "stream_500", "cooldown", "quota_images",
                 "rpm", "ipm", "rate_window", "ratelimit_headers"):
        if getattr(args, name) is not None:
            settings[name] = getattr(args, name)
    if str(settings.get("request_id_header", "")).lower() == "none":
        settings["request_id_header"] = None
    return EmulatorConfig(latency=args.latency, require_key=args.require_key, **settings)


def main(argv: list[str] | None = None) -> int:
    try:
        status = _main(argv)
        sys.stdout.flush()  # inside the try: a reader that went away is met here, not at exit
        return status
    except BrokenPipeError:  # `wisgate-nb info ... | head`: the reader has what it wanted; stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # Python's own last flush finds no pipe
        return 1


def _main(argv: list[str] | None) -> int:
    args = _parser().parse_args(argv)
    if args.command in ("gateway", "emulator"):  # an extra of the install: a line saying which, not a traceback
        problem = missing(args.command, f"wisgate-nb {args.command}")
        if not problem and args.command == "gateway":
            from .gateway.env import hub_service_env

            problem = missing("hub", "wisgate-nb gateway as a JupyterHub service") if hub_service_env() else None
        if problem:
            print(f"error: {problem}", file=sys.stderr)
            return 2
    if args.command == "gateway":
        from .gateway.cli import main as gateway_main

        return gateway_main(args)
    if args.command == "emulator":
        from .emulator import run

        config = emulator_config(args)
        proxied = " behind an emulated proxy" if config.proxied or config.request_id_header != "x-request-id" else ""
        print(f"wisgate-nb demo server{proxied} on http://{args.host}:{args.port}/v1 (Ctrl-C to stop)", flush=True)
        run(host=args.host, port=args.port, config=config)
        return 0
    if args.command == "info":
        return _info(args.file, as_json=args.json)
    return _send(args)


def _info(files: list[str], *, as_json: bool) -> int:
    """Each file's provenance; exit status 1 if a file has none (or cannot be read)."""
    import json

    from .records.provenance import read

    status = 0
    for name in files:
        try:
            facts = read(name)
        except OSError as exc:
            print(f"error: cannot read {name}: {exc.strerror or exc}", file=sys.stderr)
            status = 1
            continue
        if not facts:
            print(f"{name}: no wisgate_nb provenance in this file", file=sys.stderr)
            status = 1
            continue
        if as_json:
            print(json.dumps(facts, ensure_ascii=False))
            continue
        print(name)
        for key, value in facts.items():
            if isinstance(value, dict):
                value = ", ".join(f"{k}={v}" for k, v in value.items() if v is not None)
            elif isinstance(value, list):
                value = ", ".join(map(str, value))
            print(f"  {key + ':':<16}{value}")
    return status


def _send(args) -> int:
    from .core import runner
    from .core.plans import DryRun, options_from_args
    from .core.session import current
    from .output.shows import Lines
    from .records.files import copy_out

    session = current()
    edits = args.command == "edit"
    ask = runner.Ask((args.prompt,), endpoint="edits" if edits else "generations",
                     images=tuple(args.image) if edits else (), mask=args.mask if edits else None,
                     options=options_from_args(args), tags=tuple(args.tag), demo=True if args.demo else None,
                     source="cli")
    try:
        request, = runner.plan(session, ask)
        if args.dry_run:
            print(DryRun.of(request))
            return 0
        generation = runner.run(session, [request], Lines())
    except WisGateError as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("cancelled", file=sys.stderr)
        return 130
    finally:
        session.close()
    for path in copy_out(generation.paths, args.out, record=generation.record):
        print(path)
    if generation.record.demo:
        print("(demo images: drawn by the embedded demo server)", file=sys.stderr)
    if generation.notice:
        print(f"({generation.notice})", file=sys.stderr)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
