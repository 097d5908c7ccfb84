"""The patron self-service PIN page (issue #16): set up, reset and change a PIN on the web.

SIP2 has no message to set a PIN, so patrons need a page. It is an ASGI app (Starlette) served
by Hypercorn's trio worker, either on its own (``sip2d web``) or inside the daemon's nursery
(``sip2d serve`` with ``[web] listen``). Its PIN checks go through the same gate as the kiosks
(:mod:`sip2d.auth.gate`), with their own argon2 limiter. See docs/pin-page.md.
"""
