"""What a magic's line and cell say: options parsed like a shell, {names} filled in, prompts split by ---.

Pure text handling for the magics; nothing here is sent or displayed.
"""

from __future__ import annotations

import re
import shlex
import string

from IPython.core.error import UsageError

from .errors import ConfigurationError
from .options import suggest

_SEPARATOR = re.compile(r"^\s*---+\s*$", re.MULTILINE)


def interpolate(text: str, namespace: dict) -> str:
    """Replace {name} with the variable's value; {{ and }} are literal braces."""
    out = []
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise ConfigurationError(f"the prompt has an unmatched brace ({exc}): write {{{{ and }}}} for literal "
                                 "braces, {name} to fill in a variable") from None
    for literal, field, spec, conversion in parsed:
        out.append(literal)
        if field is None:
            continue
        if not field.isidentifier():
            raise ConfigurationError(f"{{{field}}} in the prompt: only plain variable names can be filled in, "
                                     "like {subject}; write {{ and }} for literal braces")
        if field not in namespace:
            raise ConfigurationError(f"{{{field}}} in the prompt: there is no variable named {field!r} in the "
                                     f"notebook. Define it first, or write {{{{{field}}}}} for literal braces.")
        value = namespace[field]
        try:
            value = {"r": repr, "a": ascii, "s": str, None: lambda v: v}[conversion](value)
            out.append(format(value, spec or ""))
        except Exception as exc:
            raise ConfigurationError(f"{{{field}}} in the prompt could not be filled in: {exc}") from None
    return "".join(out)


def split_prompts(cell: str) -> list[str]:
    """Prompts separated by lines of ---; blank ones dropped."""
    return [p.strip() for p in _SEPARATOR.split(cell) if p.strip()]


def parse_fields(items: list[str]) -> dict[str, str]:
    fields = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.isidentifier():
            raise ConfigurationError(f"{item!r}: template fields are written name=value (quote values with spaces: "
                                     'subject="red sneaker")')
        fields[name] = value
    return fields


def parse_vary(items: list[str]) -> dict[str, list[str]]:
    varied: dict[str, list[str]] = {}
    for item in items:
        key, sep, values = item.partition("=")
        parts = [v.strip() for v in values.split(",") if v.strip()]
        if not sep or not key.isidentifier() or not parts:
            raise ConfigurationError(f"--vary {item!r}: write --vary key=a,b (e.g. --vary size=512x512,1024x1024)")
        varied[key] = parts  # numbers stay text: the option registry reads digits
    return varied


def parse_line(magic, line: str):
    """Parse a magic's options the way a shell would: name="two words" is one argument."""
    try:
        argv = shlex.split(line)
    except ValueError as exc:
        raise ConfigurationError(f"cannot read the options ({exc}): close every quote") from None
    try:
        return magic.parser.parse_args(argv)
    except UsageError as exc:
        raise UsageError(_with_suggestion(str(exc), magic.parser)) from None


def _with_suggestion(message: str, parser) -> str:
    """Add "did you mean --size?" to an unknown option's message."""
    unknown = re.findall(r"(?<!\S)(--?[\w-]+)", message.partition("unrecognized arguments:")[2])
    known = [flag for action in parser._actions for flag in action.option_strings]
    hints = [suggest(flag, known).strip(" ()") for flag in unknown]
    hints = [h for h in hints if h]
    return message + (f"; {'; '.join(hints)}" if hints else "")
