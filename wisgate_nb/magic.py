"""IPython magics: %%wisgate_image, %wisgate_panel, %wisgate_history, %wisgate_key, %wisgate_doctor,
%%wisgate_template; %wisgate_grade is in grade_magics.py. A thin front door: parse, fill in {names}, hand over to the
runner (core/runner.py), which plans, runs and shows."""

from __future__ import annotations

import os
from typing import Any

from IPython.core.magic import Magics, cell_magic, line_cell_magic, line_magic, magics_class, no_var_expand
from IPython.core.magic_arguments import argument, magic_arguments
from IPython.display import HTML, display

from . import api
from .cell import interpolate, parse_fields, parse_line, parse_vary, split_prompts
from .core import runner
from .core.plans import DryRun, options_from_args
from .core.session import current
from .errors import ConfigurationError, WisGateError
from .grade_magics import GradeMagics, grade_cell
from .grading.judge import check_rubric
from .options import FRONT_DOOR, argparse_spec
from .output import html, shows
from .records.views import history_table


def registry_arguments(func):
    """The magic's arguments for every image option of the registry (options.OPTIONS)."""
    for option in reversed(FRONT_DOOR):
        flags, kwargs = argparse_spec(option)
        func = argument(*flags, **kwargs)(func)
    return func


@magics_class
class WisGateMagics(Magics):
    """The wisgate_nb magics."""

    @no_var_expand
    @magic_arguments()
    @registry_arguments
    @argument("--edit", metavar="IMAGE", action="append", default=None,
              help="edit an image: a path, a variable (PIL image or result) or _ (last result); repeat for up to 16")
    @argument("--mask", metavar="MASK", help="mask for --edit: a variable holding a mask painter or a PIL image, or a "
                                             "PNG path (transparent areas are edited)")
    @argument("--out", metavar="NAME", help="bind the result to this variable")
    @argument("--bg", action="store_true", help="return at once; the output fills in when done")
    @argument("--no-display", action="store_true", help="do not show the images")
    @argument("--full", action="store_true", help="embed the full-resolution image, not a thumbnail")
    @argument("--tag", action="append", default=[], metavar="TAG", help="tag the history record (repeatable)")
    @argument("--demo", action="store_true", help="use the embedded demo server (no key, no network)")
    @argument("--vary", action="append", default=[], metavar="KEY=A,B",
              help="run once per value and compare, e.g. --vary size=512x512,1024x1024")
    @argument("--template", metavar="NAME", help="fill a saved prompt template (fields as name=value)")
    @argument("--dry-run", action="store_true", help="show the request that would be sent; send nothing")
    @argument("--cache", action="store_true", help="reuse an identical earlier result instead of sending")
    @argument("--profile", metavar="NAME", help="use a profile from pyproject.toml / wisgate_nb.toml")
    @argument("--grade", metavar="RUBRIC", help='grade the images with the judge model, e.g. --grade "a red fox"')
    @argument("fields", nargs="*", help="template fields, name=value")
    @line_cell_magic
    def wisgate_image(self, line: str, cell: str | None = None):
        """Generate images from the prompt in the cell and show them inline.

        Usage::

            %%wisgate_image --size 1024x1024 -n 2 --quality high
            A futuristic city skyline at dusk with neon reflections on rain-slicked streets

        {name} in the cell is replaced by the variable's value ({{ and }} for literal braces).
        Several prompts separated by lines of --- run concurrently and show side by side.
        With no key set, use --demo (or WISGATE_DEMO=1) for offline demo images.
        With --template, one line is enough: %wisgate_image --template product-shot subject="red sneaker".
        Settings: %config WisGate (model, size, n, timeout, max_retries, max_concurrency, ...).
        """
        args = parse_line(self.wisgate_image, line)
        cell = cell or ""
        ns = self.shell.user_ns
        if args.out is not None and not args.out.isidentifier():
            raise ConfigurationError(f"--out {args.out!r}: give a variable name, like --out city")
        prompts = [interpolate(p, ns) for p in split_prompts(cell)]
        fields = parse_fields(args.fields)
        if fields and not args.template:
            raise ConfigurationError(f"unexpected {args.fields[0]!r}: name=value fields go with --template NAME")
        if not prompts and not args.template:
            raise ConfigurationError("the cell is empty: write the prompt on the lines below %%wisgate_image")
        if args.grade is not None:
            check_rubric(args.grade)  # before anything is sent
            if args.bg:
                raise ConfigurationError("--grade waits for the images: it does not go with --bg")
        images = tuple(self._resolve_image(name, "--edit") for name in args.edit or ())
        mask = self._resolve_image(args.mask, "--mask") if args.mask and args.edit is not None else args.mask
        ask = runner.Ask(tuple(prompts), endpoint="generations" if args.edit is None else "edits", images=images,
                         mask=mask, template=args.template, fields=fields, vary=parse_vary(args.vary),
                         options=options_from_args(args), tags=tuple(args.tag), demo=True if args.demo else None,
                         cache=True if args.cache else None, full=args.full, source="magic")
        session = current()
        requests = runner.plan(session, ask)
        if args.dry_run:
            for request in requests:
                display(DryRun.of(request))
            return None
        show = not args.no_display
        notice = session.announce_demo() if requests[0].target.demo else None
        if notice and show:
            display(HTML(html.status_html(notice)))
        if args.bg:
            runner.submit(session, requests, shows.Background(enabled=show, keep=self._keeper(args.out)))
            return None
        outcome = runner.run(session, requests, shows.Cell(enabled=show))
        self._keeper(args.out)(outcome)
        failed = outcome.errors if len(requests) > 1 else []
        if args.grade is not None and len(failed) < len(requests):
            grade_cell(shows.shown(outcome), args.grade, show=show)
        if failed:
            raise failed[0]
        return None

    def _keeper(self, out: str | None):
        """What --out NAME binds: the Generation, or several requests' results in the order typed."""
        def keep(outcome) -> None:
            if out:
                self.shell.user_ns[out] = getattr(outcome, "results", outcome)

        return keep

    def _resolve_image(self, name: str, option: str) -> Any:
        if name == "_":
            last = current().last
            if last is None:
                raise ConfigurationError(f"{option} _: there is no earlier result in this session yet")
            return last
        if name.isidentifier() and name in self.shell.user_ns:
            return self.shell.user_ns[name]
        if name.isidentifier() and not os.path.exists(name):
            raise ConfigurationError(f"{option} {name}: there is no variable or file named {name!r} (give a variable "
                                     "holding an image, a result or a mask painter, or a file path)")
        return name  # a path; checked when loaded

    @line_magic
    def wisgate_panel(self, line: str = ""):
        """Show the generation panel (prompt, size, n, Generate); the notebook stays free."""
        display(api.panel())

    @magic_arguments()
    @argument("action", nargs="?", default="show", choices=["show", "compare"], help="show (default) or compare")
    @argument("ids", nargs="*", help="record ids to compare")
    @argument("--last", type=int, default=None, help="the last N records")
    @argument("--prompt", default=None, help="records whose prompt contains this text")
    @argument("--by", default=None, help="compare by this parameter")
    @line_magic
    def wisgate_history(self, line: str = ""):
        """Show the session's history as a thumbnail table, or compare records side by side.

        %wisgate_history                     the last 20 records
        %wisgate_history compare --last 4    the last 4 results side by side
        %wisgate_history compare ID ID ...   chosen records
        """
        args = parse_line(self.wisgate_history, line)
        history = current().history
        if args.action == "compare":
            display(history.compare(args.ids or None, prompt=args.prompt, last=args.last, by=args.by))
            return
        records = history.select(prompt=args.prompt, last=args.last or 20)
        display(HTML(history_table(history, records, total=len(history),
                                               prices=current().config.prices or None)))

    @line_magic
    def wisgate_key(self, line: str = ""):
        """Type the API key (hidden); it is kept in this kernel's memory only, never saved."""
        import getpass

        if line.strip():
            raise ConfigurationError("%wisgate_key takes no argument: it asks for the key so that it is never in "
                                     "the notebook")
        value = getpass.getpass("WisGate API key (input hidden): ")
        if not value.strip():
            print("No key entered; nothing changed.")
            return
        config = current().config
        config.api_key = value
        was_demo = config.demo
        config.demo = False
        note = " Demo mode is now off." if was_demo else ""
        print(f"Key set for this session ({config.api_key.masked()}), kept in memory only.{note}")

    @line_magic
    def wisgate_doctor(self, line: str = ""):
        """Report what wisgate_nb sees: frontend, profile, key (masked), endpoint, history folder."""
        from .core.doctor import report

        display(report(current()))

    @no_var_expand
    @magic_arguments()
    @argument("name", help="template name, e.g. product-shot")
    @argument("defaults", nargs="*", help="field defaults, name=value")
    @cell_magic
    def wisgate_template(self, line: str, cell: str):
        """Save the cell as a prompt template: {field} placeholders, defaults as name=value.

        %%wisgate_template product-shot background=white style=photorealistic
        {subject} on a {background} background, {style}, soft studio lighting, centered
        """
        from . import templates

        args = parse_line(self.wisgate_template, line)
        template = templates.save(args.name, cell.strip(), **parse_fields(args.defaults))
        display(HTML(html.status_html(f"template {template.name} v{template.version} saved "
                                        f"(fields: {', '.join(template.fields) or 'none'})")))


def register(ip) -> None:
    ip.register_magics(WisGateMagics, GradeMagics)


def unregister(ip) -> None:
    magics = ip.magics_manager.magics
    for kind, names in (("cell", ("wisgate_image", "wisgate_template")),
                        ("line", ("wisgate_image", "wisgate_panel", "wisgate_history", "wisgate_key",
                                  "wisgate_doctor", "wisgate_grade"))):
        for name in names:
            magics[kind].pop(name, None)


__all__ = ["WisGateMagics", "interpolate", "split_prompts", "WisGateError"]
