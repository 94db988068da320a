"""``wisgate-nb gateway``: serve the classroom gateway, add a student, manage one, report the usage."""

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
                        description="Serve the classroom gateway (no command), add or manage a student, or report the usage.")
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
    usage = commands.add_parser("usage", parents=[common],
                                help="today's usage per student; or sums over a range (--from/--to/--by), or --csv")
    usage.add_argument("--from", dest="start", metavar="DATE", help="first day, YYYY-MM-DD (UTC)")
    usage.add_argument("--to", dest="end", metavar="DATE", help="last day, YYYY-MM-DD (UTC), included")
    usage.add_argument("--by", choices=("student", "day", "assignment"), help="sums per student, day or assignment")
    usage.add_argument("--csv", action="store_true", help="CSV: one row per request (with --by: the sums)")
    reset = commands.add_parser("reset", parents=[common], help="give a student's images back (and release their "
                                                                "requests in flight)")
    reset.add_argument("name")
    reset.add_argument("--period", choices=("day", "week", "total", "all"), default="day",
                       help="which count: today's (default), this ISO week's, the term's, or all of them")
    for command, text in (("block", "refuse a student's requests (403 student_blocked) until unblocked"),
                          ("unblock", "let a blocked student in again"),
                          ("remove", "standalone: delete a student's token (it stops working at once)")):
        commands.add_parser(command, parents=[common], help=text).add_argument("name")


def _settings(args):
    from .settings import settings_from_environment

    return settings_from_environment(getattr(args, "config", None), getattr(args, "db", None))


def main(args) -> int:
    try:
        if args.gateway_command == "add-student":
            return _add_student(args)
        if args.gateway_command == "usage":
            return _usage(args)
        if args.gateway_command in ("reset", "block", "unblock", "remove"):
            return _manage(args)
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
    import csv

    from .db import connect
    from .quotas import usage_report, usage_table
    from .reports import csv_text, day_range, sums
    from .settings import ConfigFile

    settings = _settings(args)
    config = ConfigFile(settings.config_path)
    start, end = day_range(args.start, args.end)
    engine = connect(settings.db_url)
    try:
        if args.by:
            rows = sums(engine, start, end, args.by)
            if args.csv:
                writer = csv.DictWriter(sys.stdout, fieldnames=[args.by, *SUM_COLUMNS], lineterminator="\n")
                writer.writeheader()
                writer.writerows(rows)
            else:
                print(sums_table(rows, args.by, start, end))
        elif args.csv:
            for piece in csv_text(engine, start, end):
                sys.stdout.write(piece)
        elif start or end:
            print(sums_table(sums(engine, start, end, "student"), "student", start, end))
        else:
            print(usage_table(usage_report(engine, config.get(), time.time())))
    finally:
        engine.dispose()
    return 0


SUM_COLUMNS = ("requests", "ok", "images", "refusals", "errors", "tokens", "students", "first_request_at",
               "last_request_at")


def sums_table(rows: list[dict], by: str, start: str | None, end: str | None) -> str:
    """Sums as a plain-text table."""
    from .quotas import text_table

    keys = ("requests", "ok", "images", "refusals", "errors", "tokens", "students")
    lines = [["-" if row[by] is None else str(row[by]), *(str(row[k]) for k in keys)] for row in rows]
    title = f"from {start or 'the start'} to {end or 'now'} (UTC days), by {by}"
    table = text_table((by, "requests", "ok", "images", "refused", "errors", "tokens", "students"), lines)
    return "\n".join([title, *table, *([] if lines else ["(no requests in this range)"])])


def _manage(args) -> int:
    from . import manage
    from .db import connect
    from .ledger import Ledger

    settings = _settings(args)
    engine = connect(settings.db_url)
    try:
        if args.gateway_command == "reset":
            print(manage.reset(Ledger(engine), args.name, args.period))
        elif args.gateway_command == "remove":
            if settings.hub is not None:
                raise ValueError("on JupyterHub the hub decides who may use the gateway: remove the user there, "
                                 f"or block them here (wisgate-nb gateway block {args.name})")
            print(manage.remove(engine, args.name))
        else:
            print(manage.block(engine, args.name, args.gateway_command == "block"))
    finally:
        engine.dispose()
    return 0
