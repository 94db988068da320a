"""The gateway's pages for a browser: the service root, the hub's OAuth callback, and who may see a page.

``GET <prefix>`` (what JupyterHub's Services menu links to) shows a student their own quota and how to
use the gateway, and a teacher also the link to ``admin/``. As a JupyterHub service, a browser is
signed in through the hub (``oauth``); standalone, a browser brings the admin cookie or nothing (a
script may send its bearer token), and the root page then says how to use the gateway.
"""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from . import page, pages, quotas, review
from .auth import ADMIN_COOKIE, ADMIN_SESSION_S, AuthError, Caller
from .oauth import SESSION_MAX_AGE_S, STATE_MAX_AGE_S, SignInError

__all__ = ["admin_login", "browser_caller", "client_address", "home", "identify_browser", "oauth_callback", "review_file",
           "review_page", "teacher_gate"]


def _root(request: Request) -> str:
    """The service root's path ("/" standalone, "/services/<name>/" on a hub)."""
    hub = request.app.state.gateway.settings.hub
    return hub.prefix if hub is not None else "/"


def client_address(request: Request) -> str:
    return request.client.host if request.client is not None else ""


async def identify_browser(request: Request) -> Caller:
    """Who sends a browser's request: a bearer token, the standalone admin cookie or the hub's OAuth cookie."""
    auth = request.app.state.gateway.auth
    hub_cookie = request.cookies.get(auth.signin.cookie_name) if auth.signin is not None else None
    return await auth.identify_at(client_address(request), request.headers.get("authorization", ""),
                                  request.cookies.get(ADMIN_COOKIE), hub_cookie)


async def browser_caller(request: Request) -> Caller | None:
    """Who opens a page; None if no one is signed in (or the hub no longer knows their sign-in)."""
    try:
        return await identify_browser(request)
    except AuthError as exc:
        if exc.status == 401:  # no token, or one the hub no longer knows: sign in (again)
            return None
        raise


def sign_in(request: Request) -> Response:
    """Send the browser to sign in: through the hub, or (standalone) the admin-token form."""
    auth = request.app.state.gateway.auth
    if auth.signin is None:
        if auth.admin_session() is None:
            raise AuthError(401, "invalid_api_key", "Only the teacher can see this page, and this gateway has no "
                            "admin token (WISGATE_GATEWAY_ADMIN_TOKEN) to sign in with.")
        return HTMLResponse(page.login_page(_root(request) + "admin/login"), status_code=401, headers=page.HEADERS)
    started = auth.signin.start(request.url.path)
    response = RedirectResponse(started.url, status_code=302, headers=page.HEADERS)
    response.set_cookie(auth.signin.state_cookie_name, started.state_cookie, max_age=STATE_MAX_AGE_S,
                        path=_root(request), httponly=True, samesite="lax", secure=request.url.scheme == "https")
    return response


async def teacher_gate(request: Request) -> Response | None:
    """None when the teacher opens the page; else where to send the browser instead (sign-in, or 403)."""
    caller = await browser_caller(request)
    if caller is None:
        return sign_in(request)
    if not caller.teacher:
        return HTMLResponse(pages.teachers_only(caller.name, _root(request)), status_code=403, headers=page.HEADERS)
    return None


async def oauth_callback(request: Request) -> Response:
    """The end of the hub's sign-in: the code becomes the OAuth cookie, then back to the page that asked."""
    signin = request.app.state.gateway.auth.signin
    if signin is None:
        return HTMLResponse(pages.message("Not found", "This gateway is not a JupyterHub service.", "/"), 404,
                            headers=page.HEADERS)
    query = request.query_params
    try:
        if query.get("error"):
            raise SignInError(f"JupyterHub did not sign you in: {query.get('error_description') or query['error']}")
        token, next_path = await signin.finish(query.get("code"), query.get("state"),
                                               request.cookies.get(signin.state_cookie_name))
    except SignInError as exc:
        return HTMLResponse(pages.message("Sign-in failed", str(exc), _root(request)), status_code=400,
                            headers=page.HEADERS)
    response = RedirectResponse(next_path, status_code=302, headers=page.HEADERS)
    secure = request.url.scheme == "https"
    response.delete_cookie(signin.state_cookie_name, path=_root(request))
    response.set_cookie(signin.cookie_name, token, max_age=SESSION_MAX_AGE_S, path=_root(request), httponly=True,
                        samesite="lax", secure=secure)
    return response


async def home(request: Request) -> Response:
    """The service root: your quota, how to use the gateway, and (teachers) the teacher page."""
    gw = request.app.state.gateway
    caller = await browser_caller(request)
    if caller is None and gw.auth.signin is not None:
        return sign_in(request)
    view = None
    if caller is not None and caller.name is not None:
        config = gw.config.get()
        view = await asyncio.to_thread(quotas.quota_view, gw.ledger.engine, caller.name,
                                       config.limits_for(caller.name), config.class_images_per_day, gw.ledger.clock())
    base_url = str(request.base_url).rstrip("/") + _root(request) + "v1"
    return HTMLResponse(pages.home_page(view, caller, base_url, hub=gw.auth.signin is not None, root=_root(request)),
                        headers=page.HEADERS)


async def review_page(request: Request) -> Response:
    """Teacher: the thumbnails students received, newest first, and the prompts refused for moderation."""
    refused = await teacher_gate(request)
    if refused is not None:
        return refused
    gw = request.app.state.gateway
    entries = await asyncio.to_thread(request.app.state.review.entries, gw.ledger.engine)
    blocked = await asyncio.to_thread(review.moderation_refusals, gw.ledger.engine)
    return HTMLResponse(pages.review_page(entries, blocked, gw.config.get().store_images), headers=page.HEADERS)


async def review_file(request: Request) -> Response:
    """Teacher: one thumbnail."""
    refused = await teacher_gate(request)
    if refused is not None:
        return refused
    found = request.app.state.review.path(request.path_params["name"])
    if found is None:
        return HTMLResponse(pages.message("Not found", "No such image.", _root(request)), 404, headers=page.HEADERS)
    return FileResponse(found, media_type="image/jpeg", headers={"cache-control": "private, no-store"})


async def admin_login(request: Request) -> Response:
    """A browser signs in with the admin token once; it gets a cookie derived from it."""
    gw = request.app.state.gateway
    address = client_address(request)
    wait = gw.auth.logins.wait(address)
    if wait is not None:
        return HTMLResponse(page.login_page(request.url.path, "Too many failed sign-ins from your address: wait a "
                                            f"minute ({wait:.0f} s), then try again."), status_code=429,
                            headers={**page.HEADERS, "retry-after": str(int(wait))})
    async with request.form(max_files=0, max_fields=4) as form:
        token = form.get("token")
    session = gw.auth.admin_session()
    if not isinstance(token, str) or session is None or not gw.auth.is_admin_token(token.strip()):
        gw.auth.logins.failed(address)
        return HTMLResponse(page.login_page(request.url.path, "That is not the teacher's token."), status_code=401,
                            headers=page.HEADERS)
    where = request.url.path.removesuffix("login")
    response = RedirectResponse(where, status_code=303, headers=page.HEADERS)
    response.set_cookie(ADMIN_COOKIE, session, path=where, max_age=ADMIN_SESSION_S, httponly=True,
                        samesite="strict", secure=request.url.scheme == "https")
    return response
