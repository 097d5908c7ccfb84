"""93 Login and 99 SC Status: who the kiosk is, and what the ACS offers it."""

from __future__ import annotations

import logging
from datetime import datetime

from sip2d.auth.gate import LoginCheck
from sip2d.protocol import ACSStatus, LoginRequest, LoginResponse, SCStatus
from sip2d.server.handlers.context import MSG_NOT_LOGGED_IN, HandlerContext, Result
from sip2d.server.handlers.permissions import Permissions
from sip2d.server.per_second import PerSecondCache
from sip2d.server.session import address_allowed
from sip2d.storage.queries import get_account_by_login
from sip2d.storage.records import KioskAccountRecord

log = logging.getLogger("sip2d.server")
# People type passwords into the login field: a refused 93's CN is never logged as it is.
_REFUSED_LOGIN_HIDES = frozenset({"login_user_id"})


async def login(ctx: HandlerContext, message: LoginRequest) -> Result:
    """93: check the kiosk's credentials; one failure is counted once, under its reason."""
    session = ctx.session
    name = message.login_user_id
    reason = "bad_credentials"
    if message.uid_algorithm != "0" or message.pwd_algorithm != "0":
        reason = "encrypted_credentials"
    else:
        record: KioskAccountRecord | None = await ctx.read(lambda c: get_account_by_login(c, name))
        if record is not None and not address_allowed(record.networks, session.address):
            reason = "address_not_allowed"
            record = None
        check = await ctx.gate.check_kiosk_login(
            record,
            message.login_password,
            login=name,
            address=session.address,
            now=ctx.clock.now_stored(),
        )
        if check is LoginCheck.OK and record is not None:
            ctx.log_in(record)
            log.info("login", extra={"conn": session.connection_id, "account": name})
            session.login_attempts = 0
            return Result(LoginResponse(ok=True), "ok")
        if check is LoginCheck.BLOCKED:
            reason = "address_blocked"
    session.login_attempts += 1
    log.warning(
        "login refused",
        extra={
            "conn": session.connection_id,
            "login": ctx.gate.fingerprint(name),
            "reason": reason,
            "peer": session.address,
        },
    )
    ctx.metrics.login_failures.labels(reason).inc()
    close = None
    if session.login_attempts >= ctx.config.server.max_login_attempts:
        close = "too many failed logins"
    return Result(LoginResponse(ok=False), "refused", close=close, hide=_REFUSED_LOGIN_HIDES)


class Status:
    """99: the 98 for one account, configuration, health and second is built once."""

    __slots__ = ("_cache", "_permissions")

    def __init__(self, permissions: Permissions) -> None:
        self._permissions = permissions
        self._cache: PerSecondCache[Result] = PerSecondCache()

    def acs_status(
        self, ctx: HandlerContext, *, online: bool, when: datetime, message: str = ""
    ) -> ACSStatus:
        server = ctx.config.server
        account = ctx.account
        supported = self._permissions.supported(account, ctx.config)
        permitted = account is not None and online
        return ACSStatus(
            online_status=online,
            checkin_ok=permitted and supported.checkin,
            checkout_ok=permitted and supported.checkout,
            acs_renewal_policy=permitted and supported.renew,
            # "SC may update patron status (e.g. block a card)" (reference 7.2).
            status_update_ok=permitted and supported.block_patron,
            offline_ok=account is not None and account.can_offline,
            timeout_period=server.timeout_period if online else 0,
            retries_allowed=server.retries_allowed,
            date_time_sync=when,
            protocol_version="2.00",
            institution_id=ctx.institution,
            library_name=server.library_name,
            supported_messages=supported,
            terminal_location=account.location_code if account else "",
            screen_message=(message,) if message else (),
        )

    async def __call__(self, ctx: HandlerContext, message: SCStatus) -> Result:
        session = ctx.session
        session.protocol_version = message.protocol_version
        session.max_print_width = message.max_print_width
        if not session.logged_in and not ctx.status_before_login:
            return Result(ctx.refuse("99", MSG_NOT_LOGGED_IN), "not_logged_in")
        online = ctx.health.online
        when = ctx.clock.now_wire()
        return self._cache.get(
            (session.account, online),
            when,
            ctx.config,
            lambda: Result(
                self.acs_status(ctx, online=online, when=when), "ok" if online else "offline"
            ),
        )
