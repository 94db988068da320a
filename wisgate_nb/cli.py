"""The ``wisgate-nb`` command: generate images from a terminal, run the demo server or the classroom gateway."""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from .errors import WisGateError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wisgate-nb", description="Image generation for Jupyter, from a terminal.")
    sub = parser.add_subparsers(dest="command", required=True)

    gen = sub.add_parser("generate", help="generate images and print their paths")
    gen.add_argument("prompt", help="what to draw")
    gen.add_argument("-s", "--size", help="WIDTHxHEIGHT or auto (default 1024x1024)")
    gen.add_argument("-n", "--n", type=int, help="number of images, 1-10")
    gen.add_argument("-q", "--quality", help="low, medium, high or auto")
    gen.add_argument("-m", "--model", help="model (default gpt-image-2)")
    gen.add_argument("--format", dest="output_format", help="png, jpeg or webp")
    gen.add_argument("--out", default=".", help="folder to copy the images into (default: the current folder)")
    gen.add_argument("--demo", action="store_true", help="use the embedded demo server: no key, no network")
    gen.add_argument("--profile", help="a profile from pyproject.toml / wisgate_nb.toml")
    gen.add_argument("--tag", action="append", default=[], help="tag the history record")

    emu = sub.add_parser("emulator", help="run the demo server (an OpenAI-compatible images API) on a port")
    emu.add_argument("--host", default="127.0.0.1")
    emu.add_argument("--port", type=int, default=8000)
    emu.add_argument("--latency", type=float, default=0.0, help="seconds per request")
    emu.add_argument("--require-key", default=None, help="answer 401 unless this key is sent")

    from .gateway.cli import add_parser as add_gateway_parser

    add_gateway_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "gateway":
        from .gateway.cli import main as gateway_main

        return gateway_main(args)
    if args.command == "emulator":
        from .emulator import EmulatorConfig, run

        print(f"wisgate-nb demo server on http://{args.host}:{args.port}/v1 (Ctrl-C to stop)", flush=True)
        run(host=args.host, port=args.port, config=EmulatorConfig(latency=args.latency, require_key=args.require_key))
        return 0
    return _generate(args)


def _generate(args) -> int:
    from . import api
    from .session import current

    options = {k: getattr(args, k) for k in ("size", "n", "quality", "model", "output_format", "profile")}
    try:
        request = api._request(args.prompt, template=None, fields={}, source="cli", tags=args.tag,
                               demo=True if args.demo else None, **{k: v for k, v in options.items() if v is not None})
        generation = current().run(request)
    except WisGateError as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("cancelled", file=sys.stderr)
        return 130
    finally:
        current().close()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for path in generation.paths:
        target = out / path.name
        if target.resolve() != path.resolve():
            shutil.copyfile(path, target)
        print(target)
    if generation.record.demo:
        print("(demo images: drawn by the embedded demo server)", file=sys.stderr)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
