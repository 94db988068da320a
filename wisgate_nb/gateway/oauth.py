"""Signing a browser in through JupyterHub (OAuth), for the gateway's pages when it runs as a hub service.

The flow is JupyterHub's own (``HubOAuth``, as in its ``service-whoami`` examples), driven from
Starlette: a page without a sign-in cookie redirects to the hub's ``oauth2/authorize`` (which sends
someone not logged in to the hub's login), the hub redirects back to ``<prefix>oauth_callback`` with a
code, the code becomes the user's OAuth token for this service, and that token is the cookie. Every
page asks the hub (cached) whose token it is, so a token the hub revoked stops working.

The OAuth state lives in the browser, not in this process: the state cookie holds a random state id
and where to go next, signed with a key derived from the service's hub token, and the PKCE verifier
is derived from the state id with that key. So the callback works in whichever worker receives it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from urllib.parse import quote

__all__ = ["HubSignIn", "SignInError", "SESSION_MAX_AGE_S"]

SESSION_MAX_AGE_S = 12 * 3600  # a browser signs in again through the hub after this
STATE_MAX_AGE_S = 600  # the OAuth round trip must end within this


class SignInError(Exception):
    """The OAuth round trip cannot be finished (a stale or forged state, a refused code)."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


@dataclass(frozen=True)
class Started:
    """Where to send the browser to sign in, and the state cookie to set on the way."""

    url: str
    state_cookie: str


class HubSignIn:
    """The OAuth side of a gateway that is a JupyterHub service (``hub_oauth`` is a ``HubOAuth``)."""

    def __init__(self, hub_oauth, prefix: str, secret: str):
        self.hub_oauth = hub_oauth
        self.prefix = prefix  # /services/<name>/
        self._key = hmac.new(secret.encode(), b"wisgate-nb gateway oauth state", "sha256").digest()

    @property
    def cookie_name(self) -> str:
        return self.hub_oauth.cookie_name  # the OAuth client id: service-<name>

    @property
    def state_cookie_name(self) -> str:
        return self.hub_oauth.state_cookie_name

    def _sign(self, text: str) -> str:
        return _b64(hmac.new(self._key, text.encode(), "sha256").digest())

    def _verifier(self, state: str) -> str:
        return _b64(hmac.new(self._key, b"pkce:" + state.encode(), "sha256").digest())

    def safe_next(self, path: str) -> str:
        """Only a page of this service is a place to come back to (no open redirect)."""
        if path.startswith(self.prefix) and "//" not in path and "\\" not in path:
            return path
        return self.prefix

    def start(self, next_path: str) -> Started:
        """The hub's authorize URL (with state and PKCE challenge) and the signed state cookie."""
        state = secrets.token_urlsafe(16)
        next_path = self.safe_next(next_path)
        payload = f"{state}|{next_path}"
        challenge = _b64(hashlib.sha256(self._verifier(state).encode()).digest())
        url = (f"{self.hub_oauth.login_url}&state={quote(state)}&code_challenge={challenge}"
               "&code_challenge_method=S256")
        return Started(url, f"{payload}|{self._sign(payload)}")

    async def finish(self, code: str | None, state: str | None, state_cookie: str | None) -> tuple[str, str]:
        """(the user's OAuth token, the page to go back to), or SignInError."""
        if not code or not state:
            raise SignInError("The sign-in through JupyterHub came back without a code; sign in again.")
        payload, _, signature = (state_cookie or "").rpartition("|")
        cookie_state, _, next_path = payload.partition("|")
        if not payload or not hmac.compare_digest(signature, self._sign(payload)) \
                or not hmac.compare_digest(cookie_state, state):
            raise SignInError("This sign-in does not match the one this browser started (or it took over "
                              "10 minutes); open the page again to sign in.")
        try:
            token = await self.hub_oauth.token_for_code(code, code_verifier=self._verifier(state), sync=False)
        except Exception as exc:  # tornado's HTTPError: the hub refused the code
            raise SignInError("JupyterHub did not accept this sign-in; open the page again.") from exc
        return token, self.safe_next(next_path)
