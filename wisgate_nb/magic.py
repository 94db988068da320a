"""IPython magics: %%wisgate_image, %wisgate_panel, %wisgate_history, %wisgate_key, %wisgate_doctor,
%%wisgate_template; %wisgate_grade is in grade_magics.py. A thin front door: parse, fill in {names}, hand over to the
session, display."""

from __future__ import annotations

import os
from typing import Any

from IPython.core.magic import Magics, cell_magic, line_cell_magic, line_magic, magics_class, no_var_expand
from IPython.core.magic_arguments import argument, magic_arguments
from IPython.display import HTML, display

from . import api
from .cell import interpolate, parse_fields, parse_line, parse_vary, split_prompts
from .core.plans import DryRun, options_from_args, plan, plan_sweep
from .core.session import current
from .errors import ConfigurationError, WisGateError
from .grade_magics import GradeMagics, grade_cell
from .grading.judge import check_rubric
from .options import FRONT_DOOR, argparse_spec
from .output import html, live
from .records.compare import ids_in_order
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
        options = options_from_args(args)
        common = dict(tags=args.tag, demo=True if args.demo else None, cache=True if args.cache else None)
        varied = parse_vary(args.vary)
        session = current()
        if args.edit is not None:
            if len(prompts) != 1 or varied:
                raise ConfigurationError("--edit takes exactly one prompt and no --vary")
            images = [self._resolve_image(name, "--edit") for name in args.edit]
            mask = self._resolve_image(args.mask, "--mask") if args.mask else None
            requests = [plan(session, prompts[0], endpoint="edits", images=images, mask=mask, source="magic",
                             full=args.full, **common, **options)]
        elif args.mask:
            raise ConfigurationError("--mask goes with --edit IMAGE")
        elif len(prompts) > 1 or varied:
            if args.template and len(prompts) > 1:
                raise ConfigurationError("--template takes at most one block of extra detail, not several prompts")
            requests = plan_sweep(session, prompts or None, template=args.template, source="magic", **common,
                                  **{**options, **fields, **varied})
        else:
            requests = [plan(session, prompts[0] if prompts else None, template=args.template, fields=fields,
                             source="magic", full=args.full, **common, **options)]
        if args.dry_run:
            for request in requests:
                display(DryRun.of(request))
            return None
        notice = session.announce_demo() if requests[0].target.demo else None
        if notice and not args.no_display:
            display(HTML(html.status_html(notice)))
        if len(requests) == 1:
            return self._run_one(requests[0], args)
        return self._run_many(requests, args)

    def _run_one(self, request, args):
        session = current()
        show = not args.no_display
        if args.bg:
            area = live.Live(html.status_html(f"generating in the background: {request.prompt[:100]}"), enabled=show)
            on_partial = live.preview_callback(area, request.prompt) if request.streamed else None
            future = session.submit(request, on_partial=on_partial)
            future.add_done_callback(lambda f: self._fill_in(f, area, args.out))
            return None
        # a live line (prompt, size, n, seconds, retries) until the result takes its place
        waiting = live.Waiting(live.describe(request), enabled=show)
        on_partial = (waiting.on_partial if waiting.active else lambda i, b: None) if request.streamed else None
        try:
            generation = session.run(request, on_partial=on_partial, on_status=waiting.on_status)
        except BaseException:
            waiting.finish()
            raise
        if args.out:
            self.shell.user_ns[args.out] = generation
        if waiting.active:
            waiting.finish(generation)
        elif show:
            display(generation)
        if args.grade is not None:
            grade_cell(generation, args.grade, show=show)
        return None

    def _fill_in(self, future, area, out: str | None, shown=lambda result: result) -> None:
        """A --bg cell's output when its job ends (on the engine thread: display-handle updates only)."""
        if future.cancelled():
            area.update(html.error_card_html("Cancelled", "cancelled before it finished (recorded in the history)",
                                             tone="warn"))
            return
        exc = future.exception()
        if exc is not None:
            area.update(html.error_card_html(type(exc).__name__, str(exc)))
            return
        if out:
            self.shell.user_ns[out] = future.result()
        area.update_obj(shown(future.result()))

    def _run_many(self, requests, args):
        session = current()
        show = not args.no_display
        if args.bg:
            area = live.Live(html.status_html(f"{len(requests)} requests running in the background"), enabled=show)
            future = session.submit_many(requests)
            future.add_done_callback(lambda f: self._fill_in(f, area, args.out,
                                                             lambda results: session.history.compare(ids_in_order(results))))
            return None
        total = len(requests)
        waiting = live.Waiting(f"{total} requests at once · 0 done", enabled=show)
        counts = {"done": 0, "failed": 0}

        def on_done(index: int, result) -> None:  # on the engine thread: the live line only
            counts["done"] += 1
            counts["failed"] += isinstance(result, Exception)
            failed = f", {counts['failed']} failed" if counts["failed"] else ""
            waiting.set_what(f"{total} requests at once · {counts['done']} done{failed}")

        try:
            results = session.run_many(requests, on_done=on_done)
        except BaseException:
            waiting.finish()
            raise
        if args.out:
            self.shell.user_ns[args.out] = results
        comparison = session.history.compare(ids_in_order(results))  # the order typed, not the order finished
        if waiting.active:
            waiting.finish(comparison)
        elif show:
            display(comparison)
        if args.grade is not None and any(not isinstance(r, Exception) for r in results):
            grade_cell(comparison, args.grade, show=show)
        errors = [r for r in results if isinstance(r, Exception)]
        if errors:
            raise errors[0]
        return None

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
