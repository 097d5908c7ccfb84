"""What every response carries and every POST must prove (issue #16, item 7).

* Headers on every answer, errors included: a CSP that allows nothing but the page's own
  files (no inline script or style), no framing, no referrer (a reset URL must not leak to
  another site), ``no-store`` (a shared library computer must not show a PIN form from the
  cache), and HSTS when the public base URL is https.
* CSRF: every form carries a token signed under a key derived from the pepper, bound to a
  random nonce in an HttpOnly SameSite=Strict cookie and to a time; a POST is accepted only
  with both, and only when the browser's ``Sec-Fetch-Site`` / ``Origin`` (when sent) say it
  came from the page itself.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Final
from urllib.parse import urlsplit

CSP: Final = (
    "default-src 'self'; script-src 'none'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
CSRF_FIELD: Final = "csrf"
CSRF_MAX_AGE: Final = 2 * 3600

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of ``url``, the form browsers send in ``Origin``."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def security_headers(https: bool) -> list[tuple[bytes, bytes]]:
    headers = [
        (b"content-security-policy", CSP.encode()),
        (b"x-frame-options", b"DENY"),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"no-referrer"),
        (b"cache-control", b"no-store"),
        (b"cross-origin-opener-policy", b"same-origin"),
        (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
    ]
    if https:
        headers.append((b"strict-transport-security", b"max-age=31536000"))
    return headers


class SecurityHeaders:
    """ASGI middleware adding :func:`security_headers` to every HTTP response."""

    def __init__(self, app: ASGIApp, *, https: bool) -> None:
        self.app = app
        self.headers = security_headers(https)
        self.names = {name for name, _ in self.headers}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(n, v) for n, v in message.get("headers", []) if n not in self.names]
                message["headers"] = kept + self.headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class CsrfGuard:
    """Signs and checks the per-form token: ``<time>.<HMAC(key, nonce|time)>``."""

    def __init__(self, key: bytes, origin: str, clock: Callable[[], float] = time.time) -> None:
        self._key = key
        self.origin = origin
        self._clock = clock

    @staticmethod
    def new_nonce() -> str:
        return secrets.token_urlsafe(32)

    def _sign(self, nonce: str, stamp: str) -> str:
        data = f"{nonce}|{stamp}".encode("ascii", "replace")
        return hmac.new(self._key, data, hashlib.sha256).hexdigest()

    def token(self, nonce: str) -> str:
        stamp = str(int(self._clock()))
        return f"{stamp}.{self._sign(nonce, stamp)}"

    def valid_token(self, nonce: str, token: str) -> bool:
        stamp, dot, mac = token.partition(".")
        if not dot or not stamp.isdigit() or len(stamp) > 12 or not nonce:
            return False
        if not 0 <= self._clock() - int(stamp) <= CSRF_MAX_AGE:
            return False
        return hmac.compare_digest(mac, self._sign(nonce, stamp))

    def same_origin(self, headers: MutableMapping[str, str] | Any) -> bool:
        """What the browser says about where the POST came from, when it says anything.

        ``Sec-Fetch-Site`` decides where it is sent (every current browser). ``Origin`` is the
        fallback, except ``null``: under ``Referrer-Policy: no-referrer`` a browser sends
        ``Origin: null`` even for the page's own forms, so it proves nothing either way and
        the signed token alone decides.
        """
        site = headers.get("sec-fetch-site")
        if site is not None:
            return bool(site in ("same-origin", "none"))
        origin = headers.get("origin")
        return origin is None or origin == "null" or origin.lower() == self.origin
