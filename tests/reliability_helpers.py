"""Helpers of the reliability and security tests: process resources, test images, HTML inertness, a notebook
run in a real kernel."""

from __future__ import annotations

import gc
import io
import logging
import os
import re
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image

# -- process resources ------------------------------------------------------------------------


def wait_until(predicate: Callable[[], bool], timeout: float = 5.0, interval: float = 0.05) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` passes; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)


def _tcp_table() -> dict[str, tuple[int, int]]:
    """socket inode -> (local port, remote port), for every TCP socket of the machine."""
    table = {}
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(name).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, remote, inode = fields[1], fields[2], fields[9]
            table[inode] = (int(local.rsplit(":", 1)[1], 16), int(remote.rsplit(":", 1)[1], 16))
    return table


def open_sockets() -> dict[str, tuple[int, int] | None]:
    """The sockets this process holds: inode -> (local port, remote port), None if not TCP."""
    table = _tcp_table()
    found: dict[str, tuple[int, int] | None] = {}
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # closed while we looked
            continue
        match = re.fullmatch(r"socket:\[(\d+)\]", target)
        if match:
            found[match.group(1)] = table.get(match.group(1))
    return found


def client_sockets(server_port: int) -> set[str]:
    """Inodes of this process's sockets connected *to* the server (the client side of connections)."""
    return {inode for inode, ports in open_sockets().items() if ports is not None and ports[1] == server_port}


def non_server_sockets(server_port: int) -> set[str]:
    """Every socket of this process except the demo server's own (listening and accepted) ones."""
    return {inode for inode, ports in open_sockets().items() if ports is None or ports[0] != server_port}


def thread_names(threads: Iterable[threading.Thread] | None = None) -> list[str]:
    return sorted(t.name for t in (threads if threads is not None else threading.enumerate()))


def rss_mb() -> float:
    """Resident memory of this process, in MiB (after a full collection)."""
    gc.collect()
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def closed_port() -> int:
    """A loopback port nobody listens on (bound once, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- test images ------------------------------------------------------------------------------


def image_bytes(size: tuple[int, int] = (128, 128), fmt: str = "PNG", mode: str | None = None,
                color=(40, 120, 200)) -> bytes:
    mode = mode or ("RGBA" if fmt in ("PNG", "WEBP") else "RGB")
    buffer = io.BytesIO()
    im = Image.new(mode, size, color if mode != "RGBA" else (*color, 255))
    im.save(buffer, fmt)
    return buffer.getvalue()


def write_image(path: Path, size: tuple[int, int] = (128, 128), fmt: str = "PNG") -> Path:
    path.write_bytes(image_bytes(size, fmt))
    return path


# -- messages ---------------------------------------------------------------------------------

_OBJECT_ADDRESS = re.compile(r"\bat 0x[0-9a-fA-F]{6,}")


def assert_readable(message: str, *, limit: int = 600) -> None:
    """A message a person can read: non-empty, short, no traceback, no bare exception name only."""
    assert isinstance(message, str) and message.strip(), "empty error message"
    assert len(message) <= limit, f"error message too long ({len(message)} chars): {message[:200]}…"
    assert "Traceback" not in message, message
    assert re.search(r"[a-z]{3,}\s+[a-z]{2,}", message), f"not words: {message!r}"


def holds_object_address(message: str) -> bool:
    """True if a message shows a Python object's memory address (meaningless to a user)."""
    return bool(_OBJECT_ADDRESS.search(message))


# -- HTML inertness ---------------------------------------------------------------------------

HOSTILE = (
    '<script>alert("wg-xss-1")</script>',
    "<img src=x onerror=alert('wg-xss-2')>",
    '"><svg onload=alert(3)>wg-xss-3',
    "' onmouseover='alert(4)' data-x='wg-xss-4",
    "</textarea></figcaption><iframe src=javascript:alert(5)>wg-xss-5",
    "<a href=\"javascript:alert(6)\">wg-xss-6</a>",
    "<style>body{display:none}</style>wg-xss-7",
    "{{7*7}} ${alert(8)} wg-xss-8",
)

_FORBIDDEN_TAGS = {"script", "iframe", "frame", "frameset", "object", "embed", "svg", "math", "link", "base",
                   "form", "input", "button", "textarea", "select", "template", "noscript", "audio", "video",
                   "source", "applet", "portal"}
_URL_ATTRS = {"href", "src", "action", "formaction", "xlink:href", "background", "poster", "srcset"}


class _Inspector(HTMLParser):
    def __init__(self, allow_style: bool = False, allow_forms: bool = False):
        super().__init__(convert_charrefs=True)
        self._allow_style = allow_style
        self._allowed = {"form", "input", "button"} if allow_forms else set()
        self.problems: list[str] = []
        self.text: list[str] = []
        self.attr_text: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        self._check(tag, attrs)
        if tag == "style":
            self._in_style = True
            if not self._allow_style:
                self.problems.append("<style> element")

    def handle_startendtag(self, tag, attrs):
        self._check(tag, attrs)

    def handle_endtag(self, tag):
        if tag == "style":
            self._in_style = False

    def _check(self, tag, attrs):
        if tag in _FORBIDDEN_TAGS - self._allowed:
            self.problems.append(f"<{tag}> element")
        if tag == "input" and dict(attrs).get("type") not in ("hidden", "date", "password"):
            self.problems.append(f"<input {attrs}>")
        if tag == "meta" and any(name not in ("charset",) for name, _ in attrs):
            self.problems.append(f"<meta {attrs}>")
        for name, value in attrs:
            value = value or ""
            self.attr_text.append(value)
            if name.startswith("on"):
                self.problems.append(f"event handler attribute {name}={value!r} on <{tag}>")
            if name in _URL_ATTRS:
                url = re.sub(r"[\s\x00-\x1f]", "", value).lower()
                if url.startswith(("javascript:", "vbscript:", "data:text", "data:application")):
                    self.problems.append(f"{name}={value[:60]!r} on <{tag}>")
                if url.startswith("data:") and not url.startswith("data:image/"):
                    self.problems.append(f"{name} data URL of another type on <{tag}>")
            if name == "style" and re.search(r"(?i)expression\s*\(|url\s*\(\s*['\"]?javascript", value):
                self.problems.append(f"style with script on <{tag}>")

    def handle_data(self, data):
        if self._in_style and re.search(r"wg-xss|alert", data):
            self.problems.append("hostile text inside a <style> element")
        self.text.append(data)


def inspect_html(html: str, *, allow_style: bool = False, allow_forms: bool = False) -> _Inspector:
    inspector = _Inspector(allow_style, allow_forms)
    inspector.feed(html)
    inspector.close()
    return inspector


def assert_inert(html: str, shown: Iterable[str] = (), *, allow_style: bool = False, allow_forms: bool = False) -> None:
    """No script, no event handler, no script URL; every string of ``shown`` visible as plain text.

    A string counts as shown when it is in the page's text or in an attribute value (e.g. an ``alt``),
    where the parser, like a browser, read it as text. ``allow_style`` admits <style> elements without
    hostile text in them (pandas puts one in its DataFrame HTML); ``allow_forms`` a page's own forms
    (the gateway's teacher page: buttons and hidden, date or password inputs only).
    """
    assert isinstance(html, str) and html, "no HTML"
    inspector = inspect_html(html, allow_style=allow_style, allow_forms=allow_forms)
    assert not inspector.problems, f"active content in HTML: {inspector.problems}\n{html[:2000]}"
    text = " ".join(" ".join(inspector.text).split())
    attrs = " ".join(" ".join(inspector.attr_text).split())
    for payload in shown:
        flat = " ".join(payload.split())
        assert flat in text or flat in attrs, f"{payload!r} is not shown as text in:\n{html[:3000]}"


# -- one request as a notebook user makes it, in each of the four ways -------------------------------

PROMPT = "a lighthouse on a cliff at dusk"
ALL_MODES = ("generate", "edit", "stream", "edit-stream")


def send(mode: str, image=None, prompt: str = PROMPT):
    """One request through the public API: generate, edit, stream or edit-stream."""
    import wisgate_nb

    stream = mode.endswith("stream")
    if mode.startswith("edit"):
        return wisgate_nb.edit(image, prompt, size="256x256", stream=stream or None)
    return wisgate_nb.generate(prompt, size="256x256", stream=stream or None)


# -- everything the libraries log, at DEBUG -----------------------------------------------------------

class _LogLines(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(self.format(record))  # the formatter adds the traceback of exc_info too


@contextmanager
def debug_logs(*names: str) -> Iterator[list[str]]:
    """The lines the named loggers (and wisgate_nb, httpx, httpcore, uvicorn, asyncio) log at DEBUG."""
    handler = _LogLines()
    loggers = [logging.getLogger(n) for n in ("wisgate_nb", "httpx", "httpcore", "uvicorn", "uvicorn.error",
                                              "asyncio", *names)]
    levels = [lg.level for lg in loggers]
    root = logging.getLogger()
    root.addHandler(handler)
    for lg in loggers:
        lg.setLevel(logging.DEBUG)
    try:
        yield handler.lines
    finally:
        root.removeHandler(handler)
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


# -- notebooks ---------------------------------------------------------------------------------

def run_in_demo_kernel(nb, folder: Path, *, allow_errors: bool = False) -> None:
    """Run ``nb`` top to bottom in a real kernel (nbclient), as "Run All" does: demo mode, no key anywhere
    in its environment, the history in ``folder/runs``; the outputs land in ``nb``."""
    from nbclient import NotebookClient

    with pytest.MonkeyPatch.context() as env:
        for name in ("WISGATE_API_KEY", "WISDOM_GATE_KEY"):
            env.delenv(name, raising=False)
        env.setenv("WISGATE_DEMO", "1")
        env.setenv("WISGATE_HISTORY_DIR", str(folder / "runs"))
        NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=allow_errors,
                       resources={"metadata": {"path": str(folder)}}).execute()


def captured_html(shell, code: str) -> list[str]:
    """Run a cell in the test shell and return the HTML of what it displayed."""
    from IPython.core.displaypub import CapturingDisplayPublisher

    ip = shell.ip
    original, ip.display_pub = ip.display_pub, CapturingDisplayPublisher()
    try:
        shell.run(code)
        return [o["data"].get("text/html", "") for o in ip.display_pub.outputs]
    finally:
        ip.display_pub = original
