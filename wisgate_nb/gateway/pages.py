"""The gateway's pages other than the teacher's table (``page``): the service root, teachers-only, a failed
sign-in. Every value from a student, the hub or the upstream goes through ``html.escape`` here.
"""

from __future__ import annotations

from html import escape
from typing import Any

from .auth import Caller
from .page import _cell, _document, _table, _time

__all__ = ["home_page", "message", "review_page", "teachers_only"]


def teachers_only(name: str | None, root: str) -> str:
    """The 403 page: signed in, but not a teacher."""
    who = f"You are signed in as {name}, but only" if name else "Only"
    body = (f"<h1>Classroom gateway</h1><p>{escape(who)} the teacher (a JupyterHub admin) can open this page.</p>"
            f'<p><a href="{escape(root)}">Your own quota and how to use the gateway</a></p>')
    return _document("Classroom gateway: teachers only", body)


def message(title: str, text: str, root: str) -> str:
    """A page that says one thing (a failed sign-in), with the way back."""
    body = (f'<h1>Classroom gateway</h1><p class="warn">{escape(text)}</p>'
            f'<p><a href="{escape(root)}admin/">Teacher page</a> · <a href="{escape(root)}">Your quota</a></p>')
    return _document(f"Classroom gateway: {title}", body)


def _quota(view: dict[str, Any]) -> str:
    limit, left = view["limits"]["images_per_day"], view["remaining"]["images_today"]
    used = view["used"]["images_today"]
    reset = _time(view["resets_at"]) or ""
    if left is None:
        text = f"You have used {used} images today; there is no daily limit."
    else:
        of = f" of {limit}" if limit is not None else " (the class's shared limit)"
        text = f"You have used {used} images today; {left}{of} are left. The count resets at {reset} UTC."
    extra = []
    if view["limits"]["requests_per_minute"] is not None:
        extra.append(f"{view['limits']['requests_per_minute']} requests per minute")
    if view["limits"]["max_concurrent"] is not None:
        extra.append(f"{view['limits']['max_concurrent']} at once")
    more = f" Also at most {' and '.join(extra)}." if extra else ""
    return f'<p class="quota">{escape(text + more)}</p>'


def home_page(view: dict[str, Any] | None, caller: Caller | None, base_url: str, *, hub: bool, root: str) -> str:
    """The service root's HTML (every value escaped)."""
    parts = ["<h1>Classroom gateway</h1>"]
    if view is not None:
        parts.append(f"<h2>{escape(view['student'])}, your images today</h2>{_quota(view)}")
    if caller is not None and caller.teacher:
        parts.append(f'<p><a href="{escape(root)}admin/">Teacher page</a>: every student\'s usage and requests.</p>')
    elif caller is None:
        parts.append(f'<p class="muted">The teacher signs in at <a href="{escape(root)}admin/">the teacher page</a>.'
                     "</p>")
    if hub:
        how = ("<p>In a notebook on this JupyterHub, wisgate_nb already sends your requests here, with your "
               "server's own hub token as the key (nothing to copy): <code>%load_ext wisgate_nb</code>, then a "
               "<code>%%wisgate_image</code> cell. Elsewhere, point it here yourself:</p>"
               f"<pre>%load_ext wisgate_nb\n%config WisGate.hub_auth = True\n"
               f"%config WisGate.base_url = \"{escape(base_url)}\"</pre>")
    else:
        how = ("<p>Use the student token your teacher gave you as the key, and this gateway as the address:</p>"
               f"<pre>%load_ext wisgate_nb\n%wisgate_key\n%config WisGate.base_url = \"{escape(base_url)}\"</pre>"
               f"<p>From a script: <code>Authorization: Bearer &lt;your token&gt;</code> on "
               f"<code>{escape(base_url)}/images/generations</code>; <code>{escape(base_url)}/quota</code> "
               "says what is left.</p>")
    parts.append(f"<h2>How to use it</h2>{how}<p><code>%wisgate_doctor</code> checks the connection and shows "
                 "your quota.</p>")
    return _document("Classroom gateway", "".join(parts))


def review_page(entries: list[dict[str, Any]], blocked: list[dict[str, Any]], on: bool) -> str:
    """/admin/images: the thumbnails with student, prompt and time; the prompts refused for moderation."""
    state = ("on" if on else "off: set <code>store_images = true</code> in gateway.toml to keep a thumbnail of "
             "each image a student receives")
    figures = "".join(
        f'<figure><img src="images/{escape(e["file"])}" alt="{escape(e["student"])}: {escape(e["prompt"] or "")}" '
        f'loading="lazy"><figcaption><b>{escape(e["student"])}</b> {escape(_time(e["started_at"]) or "")} UTC'
        f'<br>{escape(e["prompt"] if e["prompt"] is not None else "(prompt not stored)")}</figcaption></figure>'
        for e in entries) or '<p class="muted">No images kept yet.</p>'
    rows = ["<tr>" + _cell(_time(b["started_at"])) + _cell(b["student"]) + _cell(b["prompt"], "prompt")
            + _cell(b["error"]) + "</tr>" for b in blocked]
    if not rows:
        rows.append('<tr><td colspan="4" class="muted">None.</td></tr>')
    body = (f"<h1>Classroom gateway: review</h1><p>Keeping images: {state}. "
            f'<a href=".">Back to the teacher page</a></p><h2>Images students received (newest first)</h2>'
            f"{figures}<h2>Prompts refused for moderation</h2>"
            + _table(("time (UTC)", "student", "prompt", "what the image service said"), rows))
    return _document("Classroom gateway: review", body)
