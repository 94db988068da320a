"""``wisgate-nb gateway``: serve the classroom gateway, add a student, show the usage table."""

from __future__ import annotations

import argparse
import sys
import time
from urllib.parse import urlsplit

from ..extras import hint

__all__ = ["add_parser", "main"]

DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 8765


def add_parser(sub) -> None:
    """Register ``gateway`` (and its ``add-student`` / ``usage`` commands) on the main CLI's subparsers."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", default=argparse.SUPPRESS,
                        help="the limits file (default: gateway.toml in the current folder)")
    common.add_argument("--db", default=argparse.SUPPRESS,
                        help="SQLAlchemy database URL (default: wisgate_gateway.sqlite beside the config; "
                             "postgresql+psycopg://... for several processes)")
    gw = sub.add_parser("gateway", parents=[common], help="the classroom gateway: one key, a quota per student",
                        description="Serve the classroom gateway (no command), add a student, or show the usage.")
    gw.add_argument("--host", default=None, help=f"address to listen on (default {DEFAULT_HOST}, or the JupyterHub "
                                                 "service URL's)")
    gw.add_argument("--port", type=int, default=None, help=f"port (default {DEFAULT_PORT}, or the JupyterHub "
                                                           "service URL's)")
    gw.add_argument("--workers", type=int, default=1, help="worker processes (use PostgreSQL for more than one)")
    commands = gw.add_subparsers(dest="gateway_command")
    commands.add_parser("serve", parents=[common], help="serve (the same as no command)")
    add = commands.add_parser("add-student", parents=[common],
                              help="make a student's token (printed once, as the last line)")
    add.add_argument("name", help="the student's name (letters, digits, . _ @ -)")
    commands.add_parser("usage", parents=[common], help="today's usage per student, as a table")


def _settings(args):
    from .settings import settings_from_environment

    return settings_from_environment(getattr(args, "config", None), getattr(args, "db", None))


def main(args) -> int:
    try:
        if args.gateway_command == "add-student":
            return _add_student(args)
        if args.gateway_command == "usage":
            return _usage(args)
        return _serve(args)
    except ImportError as exc:  # an extra not installed (postgres, hub): its pip line
        print(f"error: {hint(exc, 'wisgate-nb gateway') or exc}", file=sys.stderr)
        return 2
    except (ValueError, RuntimeError) as exc:  # ConfigError is a ValueError
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _serve(args) -> int:
    from .server import run

    settings = _settings(args)
    host, port = args.host, args.port
    if settings.hub is not None and settings.hub.url:  # started by JupyterHub: listen where it expects us
        where = urlsplit(settings.hub.url)
        host = host or where.hostname
        port = port or where.port
    if args.workers < 1:
        raise ValueError("--workers must be 1 or more")
    try:
        run(settings, host=host or DEFAULT_HOST, port=port or DEFAULT_PORT, workers=args.workers)
    except KeyboardInterrupt:
        pass
    return 0


def _add_student(args) -> int:
    from .auth import add_student
    from .db import connect

    settings = _settings(args)
    engine = connect(settings.db_url)
    try:
        token, replaced = add_student(engine, args.name)
    finally:
        engine.dispose()
    if replaced:
        print(f"{args.name} already had a token: that one no longer works.")
    print(f"Student {args.name} added. Their token is shown only now: give it to them privately; they paste it "
          "at %wisgate_key (or set WISGATE_API_KEY) with WISGATE_BASE_URL=<this gateway>/v1.")
    print(token)
    return 0


def _usage(args) -> int:
    from .db import connect
    from .settings import ConfigFile
    from .usage import usage_report, usage_table

    settings = _settings(args)
    config = ConfigFile(settings.config_path)
    engine = connect(settings.db_url)
    try:
        print(usage_table(usage_report(engine, config.get(), time.time())))
    finally:
        engine.dispose()
    return 0
