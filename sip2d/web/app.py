"""The HTTP side of the PIN page: routes, forms, cookies, CSRF and templates.

Stable routes (libraries link to them): ``/pin`` (start), ``/pin/forgot``, ``/pin/reset``,
``/pin/change``, ``/pin/setup``; files under ``/pin/static/``. Every answer passes through
:class:`~sip2d.web.security.SecurityHeaders`. Nothing here logs a form body, a query string
or a cookie: the access log names method, path and status only.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Final

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from sip2d.web import forms
from sip2d.web.flows import Gettext, Outcome, PinFlows, Result
from sip2d.web.i18n import LANGUAGES, language_name, negotiate, translations
from sip2d.web.security import CSRF_FIELD, CSRF_MAX_AGE, CsrfGuard, SecurityHeaders, origin_of

log = logging.getLogger("sip2d.web")

STATIC_DIR: Final = Path(__file__).parent / "static"
# The reset cookie outlives the redirect only long enough to fill in the form.
RESET_COOKIE_SECONDS: Final = 15 * 60
LANG_COOKIE_SECONDS: Final = 365 * 24 * 3600
PAGES: Final = ("/pin", "/pin/forgot", "/pin/change", "/pin/setup", "/pin/reset")


def _environment(language: str) -> Environment:
    env = Environment(
        loader=PackageLoader("sip2d.web", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        extensions=["jinja2.ext.i18n"],
    )
    env.install_gettext_translations(translations(language), newstyle=True)  # type: ignore[attr-defined]
    return env


class PinPage:
    """The page: holds the flows, the CSRF guard and one template environment per language."""

    def __init__(self, flows: PinFlows, csrf: CsrfGuard) -> None:
        self.flows = flows
        self.csrf = csrf
        web = flows.config.web
        self.web = web
        self.https = web.base_url.startswith("https://")
        prefix = "__Host-" if self.https else ""
        self.csrf_cookie = f"{prefix}pin_csrf"
        self.reset_cookie = f"{prefix}pin_reset"
        self.lang_cookie = f"{prefix}pin_lang"
        self.envs = {language: _environment(language) for language in LANGUAGES}

    # --- plumbing ---------------------------------------------------------------------------

    def language(self, request: Request) -> str:
        return negotiate(
            request.headers.get("accept-language", ""), request.cookies.get(self.lang_cookie, "")
        )

    def _cookie(self, response: Response, name: str, value: str, max_age: int) -> None:
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            path="/",
            secure=self.https,
            httponly=True,
            samesite="strict",
        )

    def render(
        self,
        request: Request,
        template: str,
        status: int = 200,
        **context: Any,
    ) -> HTMLResponse:
        language = self.language(request)
        nonce = request.cookies.get(self.csrf_cookie, "")
        fresh = len(nonce) < 32 or len(nonce) > 64
        if fresh:
            nonce = self.csrf.new_nonce()
        html = (
            self.envs[language]
            .get_template(template)
            .render(
                lang=language,
                library=self.web.library_name,
                help_text=self.web.help_text,
                csrf_field=CSRF_FIELD,
                csrf_token=self.csrf.token(nonce),
                languages=[(code, language_name(code)) for code in LANGUAGES],
                path=request.url.path,
                policy=self.flows.policy,
                minutes=self.web.link_minutes,
                code_hours=self.web.setup_code_hours,
                **({"errors": {}, "card": ""} | context),
            )
        )
        response = HTMLResponse(html, status_code=status)
        if fresh:
            self._cookie(response, self.csrf_cookie, nonce, CSRF_MAX_AGE)
        return response

    async def read_form(self, request: Request) -> dict[str, str] | Response:
        """The form, or the answer for a request that cannot be one of ours."""
        length = request.headers.get("content-length", "")
        if length and (not length.isdigit() or int(length) > forms.MAX_BODY):
            return self.render(request, "error.html", 413, problem="too_large")
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > forms.MAX_BODY:
                return self.render(request, "error.html", 413, problem="too_large")
        form = forms.parse_form(body)
        nonce = request.cookies.get(self.csrf_cookie, "")
        token = form.get(CSRF_FIELD, "")
        same_origin = self.csrf.same_origin(request.headers)
        if not same_origin or not self.csrf.valid_token(nonce, token):
            log.info(
                "form refused: CSRF (%s, cookie %s)",
                "cross-origin" if not same_origin else "token",
                bool(nonce),
                extra={
                    "path": request.url.path,
                    "reason": "cross-origin" if not same_origin else "token",
                    "cookie": bool(nonce),
                },
            )
            return self.render(request, "error.html", 403, problem="csrf")
        return form

    @staticmethod
    def address(request: Request) -> str:
        return request.client.host if request.client is not None else ""

    def gettext(self, request: Request) -> Callable[[str], str]:
        return translations(self.language(request)).gettext

    # --- routes -----------------------------------------------------------------------------

    async def index(self, request: Request) -> Response:
        return self.render(request, "index.html")

    async def choose_language(self, request: Request) -> Response:
        chosen = request.query_params.get("to", "")
        back = request.query_params.get("back", "/pin")
        # Only back to one of our pages: never an open redirect.
        target = back if back in PAGES else "/pin"
        response = RedirectResponse(target, status_code=303)
        if chosen in LANGUAGES:
            self._cookie(response, self.lang_cookie, chosen, LANG_COOKIE_SECONDS)
        return response

    async def forgot(self, request: Request) -> Response:
        if request.method == "GET":
            return self.render(request, "forgot.html")
        form = await self.read_form(request)
        if isinstance(form, Response):
            return form
        _ = self.gettext(request)
        card = forms.read(form, "card", forms.MAX_CARD)
        if not card.value:
            errors = {"card": _("Enter your card number.")}
            return self.render(request, "forgot.html", 400, errors=errors)
        if forms.card_shape_ok(card.value) and not card.too_long:
            self.flows.forgot(card.value, self.address(request), self.language(request))
        return self.render(request, "forgot.html", sent=True)

    async def reset(self, request: Request) -> Response:
        token = request.query_params.get("token")
        if request.method == "GET" and token is not None:
            patron = await self.flows.link_patron(token[:128])
            if patron is None:
                return self.render(request, "reset.html", 400, gone=True)
            response = RedirectResponse("/pin/reset", status_code=303)
            self._cookie(response, self.reset_cookie, token, RESET_COOKIE_SECONDS)
            return response
        held = request.cookies.get(self.reset_cookie, "")
        if request.method == "GET":
            # A browser may withhold the SameSite=Strict cookie on the redirect that follows
            # a link clicked in a webmail (another site): show the form, check on POST.
            if held and await self.flows.link_patron(held) is None:
                return self._gone(request)
            return self.render(request, "reset.html")
        form = await self.read_form(request)
        if isinstance(form, Response):
            return form
        if not held:
            return self._gone(request)
        result = await self.flows.reset(
            held,
            forms.read(form, "new_pin", forms.MAX_SECRET, strip=False).value,
            forms.read(form, "new_pin_again", forms.MAX_SECRET, strip=False).value,
            self.language(request),
            self.gettext(request),
        )
        if result.outcome is Outcome.LINK_GONE:
            return self._gone(request)
        if result.outcome is Outcome.INVALID:
            return self.render(request, "reset.html", 400, errors=result.errors)
        return self._done(request)

    def _gone(self, request: Request) -> Response:
        response = self.render(request, "reset.html", 400, gone=True)
        response.delete_cookie(
            self.reset_cookie, path="/", secure=self.https, httponly=True, samesite="strict"
        )
        return response

    def _done(self, request: Request) -> Response:
        response = self.render(request, "done.html")
        response.delete_cookie(
            self.reset_cookie, path="/", secure=self.https, httponly=True, samesite="strict"
        )
        return response

    async def change(self, request: Request) -> Response:
        def submit(card: str, form: dict[str, str], _: Gettext) -> Awaitable[Result]:
            return self.flows.change(
                card,
                forms.read(form, "current_pin", forms.MAX_SECRET, strip=False).value,
                forms.read(form, "new_pin", forms.MAX_SECRET, strip=False).value,
                forms.read(form, "new_pin_again", forms.MAX_SECRET, strip=False).value,
                address=self.address(request),
                language=self.language(request),
                _=_,
            )

        return await self._card_form(request, "change.html", submit)

    async def setup(self, request: Request) -> Response:
        def submit(card: str, form: dict[str, str], _: Gettext) -> Awaitable[Result]:
            return self.flows.setup(
                card,
                forms.read(form, "code", forms.MAX_CODE).value,
                forms.read(form, "new_pin", forms.MAX_SECRET, strip=False).value,
                forms.read(form, "new_pin_again", forms.MAX_SECRET, strip=False).value,
                address=self.address(request),
                language=self.language(request),
                _=_,
            )

        return await self._card_form(request, "setup.html", submit)

    async def _card_form(
        self,
        request: Request,
        template: str,
        submit: Callable[[str, dict[str, str], Gettext], Awaitable[Result]],
    ) -> Response:
        """A form that starts with the card (change, setup): the page on GET; on POST the card
        checked first, then ``submit`` with the card, the form and the request's language."""
        if request.method == "GET":
            return self.render(request, template)
        form = await self.read_form(request)
        if isinstance(form, Response):
            return form
        _ = self.gettext(request)
        card = forms.read(form, "card", forms.MAX_CARD)
        result: Result
        if not card.value:
            result = Result(Outcome.INVALID, {"card": _("Enter your card number.")})
        else:
            result = await submit(card.value, form, _)
        return self._form_result(request, template, result, card.value)

    def _form_result(self, request: Request, template: str, result: Result, card: str) -> Response:
        if result.outcome is Outcome.CHANGED:
            return self._done(request)
        refused = result.outcome is Outcome.REFUSED
        return self.render(request, template, 400, errors=result.errors, refused=refused, card=card)

    async def not_found(self, request: Request, exc: Exception) -> Response:
        return self.render(request, "error.html", 404, problem="not_found")

    async def server_error(self, request: Request, exc: Exception) -> Response:
        log.error("page failed", extra={"path": request.url.path, "error": type(exc).__name__})
        return self.render(request, "error.html", 500, problem="server")


def build_app(page: PinPage) -> Callable[..., Awaitable[None]]:
    """The ASGI app: Starlette routes inside the security-header middleware."""
    methods = ["GET", "POST"]
    routes = [
        Route("/pin", page.index, methods=["GET"]),
        Route("/pin/", page.index, methods=["GET"]),
        Route("/pin/language", page.choose_language, methods=["GET"]),
        Route("/pin/forgot", page.forgot, methods=methods),
        Route("/pin/reset", page.reset, methods=methods),
        Route("/pin/change", page.change, methods=methods),
        Route("/pin/setup", page.setup, methods=methods),
        Mount("/pin/static", app=StaticFiles(directory=STATIC_DIR), name="static"),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={404: page.not_found, 500: page.server_error},
    )
    return SecurityHeaders(app, https=page.https)


def csrf_guard(key: bytes, base_url: str) -> CsrfGuard:
    return CsrfGuard(key, origin_of(base_url))
