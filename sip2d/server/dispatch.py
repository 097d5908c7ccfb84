"""From a decoded request to its response: the login gate, permissions and database failures.

Every request gets exactly one response of its matching type (reference 9.2, 9.3): before
login, when the account lacks a permission, when the database is down, and when the request
is malformed, the answer is that response type in its refusal form with a screen message a
patron can act on; never silence and never non-SIP text. What each request does is its
family's handler (:mod:`sip2d.server.handlers`); this module only decides whether it runs.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from sip2d.protocol import (
    BlockPatron,
    CheckinRequest,
    CheckoutRequest,
    EndPatronSessionRequest,
    FeePaidRequest,
    HoldRequest,
    ItemInformationRequest,
    ItemStatusUpdateRequest,
    LoginRequest,
    Message,
    PatronEnableRequest,
    PatronInformationRequest,
    PatronStatusRequest,
    RenewAllRequest,
    RenewRequest,
    RequestSCResend,
    SCStatus,
)
from sip2d.server.field_limits import too_long
from sip2d.server.handlers import circulation, fees, holds, items, login_status, patron
from sip2d.server.handlers.context import (
    MSG_NOT_LOGGED_IN,
    MSG_OFFLINE,
    HandlerContext,
    Result,
)
from sip2d.server.handlers.permissions import Permissions
from sip2d.storage.errors import StorageError, error_text, is_connection_error
from sip2d.storage.queries import get_account_by_login

log = logging.getLogger("sip2d.server")

MSG_NOT_PROCESSED = "This request could not be processed. Please see library staff."

Handler = Callable[[HandlerContext, Any], Awaitable[Result]]
# Answered before login and whatever the account's permissions.
_ALWAYS = (LoginRequest, SCStatus)


_DATABASE_ERRORS = (DBAPIError, StorageError, SQLAlchemyError, OSError)


def _database_failed(ctx: HandlerContext, exc: BaseException, msg_id: str) -> bool:
    """Account for a database error; True when it is an outage (connection-level)."""
    ctx.metrics.db_errors.inc()
    if is_connection_error(exc):
        # Logged by the health record: once per outage, not once per request.
        ctx.health.failed(exc)
        return True
    # This request failed, the database did not: the others carry on as before.
    log.error(
        "database error",
        extra={"conn": ctx.session.connection_id, "msg_id": msg_id, "error": error_text(exc)},
    )
    return False


class Dispatcher:
    """Maps request types to handlers and enforces the rules common to all of them.

    One per daemon: it holds the per-daemon memos (permissions, the per-second 98).
    """

    def __init__(self) -> None:
        self.permissions = Permissions()
        self.status = login_status.Status(self.permissions)
        self.handlers: dict[type[Any], Handler] = {
            LoginRequest: login_status.login,
            SCStatus: self.status,
            PatronStatusRequest: patron.patron_status,
            PatronInformationRequest: patron.patron_information,
            EndPatronSessionRequest: patron.end_patron_session,
            BlockPatron: patron.block_patron,
            PatronEnableRequest: patron.patron_enable,
            CheckoutRequest: circulation.checkout,
            CheckinRequest: circulation.checkin,
            RenewRequest: circulation.renew,
            RenewAllRequest: circulation.renew_all,
            FeePaidRequest: fees.fee_paid,
            HoldRequest: holds.hold,
            ItemInformationRequest: items.item_information,
            ItemStatusUpdateRequest: items.item_status_update,
        }

    async def dispatch(self, ctx: HandlerContext, message: Message) -> Result:
        handler = self.handlers.get(type(message))
        if handler is None:
            # A response id (or 96) sent to the ACS: nothing to execute, ask for a resend.
            return Result(RequestSCResend(), "unexpected", store=False)
        session = ctx.session
        if not isinstance(message, _ALWAYS):
            if not session.logged_in:
                return Result(ctx.refusal(message, MSG_NOT_LOGGED_IN), "not_logged_in")
            msg_id = type(message).MESSAGE_ID
            if not self.permissions.allows(session.account, ctx.config, msg_id):
                handler = patron.not_permitted
        oversized = too_long(message)
        if oversized is not None:
            return Result(ctx.refusal(message, oversized), "too_long")
        try:
            return await handler(ctx, message)
        except _DATABASE_ERRORS as exc:
            outage = _database_failed(ctx, exc, type(message).MESSAGE_ID)
            return Result(
                ctx.refusal(message, MSG_OFFLINE if outage else MSG_NOT_PROCESSED), "db_error"
            )

    async def bind_listener_account(self, ctx: HandlerContext, login: str) -> bool:
        """Ports configured without 93: every connection acts as one configured account.

        False when the database could not be asked: the connection is then closed, since it
        could never log in (a missing or disabled account leaves it open, refusing everything).
        """
        try:
            record = await ctx.read(lambda c: get_account_by_login(c, login))
        except _DATABASE_ERRORS as exc:
            _database_failed(ctx, exc, "")
            return False
        if record is None or not record.enabled:
            log.error("listener account missing or disabled", extra={"account": login})
            return True
        ctx.log_in(record)
        return True

    @staticmethod
    def refusal_for(ctx: HandlerContext, message_id: str, reason: str) -> Message | None:
        """For a frame that could not be decoded: its refusal form, or None (answer 96)."""
        response = ctx.refuse(message_id, reason)
        return None if isinstance(response, RequestSCResend) else response
