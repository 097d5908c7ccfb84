"""From a decoded request to its response: the login gate, permissions, PINs and rules.

Every request gets exactly one response of its matching type (reference 9.2, 9.3): before
login, when the account lacks a permission, when the database is down, and when the request
is malformed, the answer is that response type in its refusal form with a screen message a
patron can act on; never silence and never non-SIP text.

Database work runs through ``ctx.db`` (worker threads behind the pool-sized limiter); PIN
verification through the PIN checker (its own CPU-sized limiter). The response is built only
after the unit of work has committed.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from sip2d.auth.pin_check import PatronPinState, PinOutcome, PinResult
from sip2d.circulation import rules
from sip2d.circulation.records import PatronLists, patron_lists
from sip2d.protocol import (
    ACSStatus,
    BlockPatron,
    CheckinRequest,
    CheckinResponse,
    CheckoutRequest,
    CheckoutResponse,
    EndPatronSessionRequest,
    EndSessionResponse,
    FeePaidRequest,
    FeePaidResponse,
    HoldRequest,
    HoldResponse,
    ItemInformationRequest,
    ItemInformationResponse,
    ItemStatusUpdateRequest,
    ItemStatusUpdateResponse,
    LoginRequest,
    LoginResponse,
    Message,
    PatronEnableRequest,
    PatronEnableResponse,
    PatronInformationRequest,
    PatronInformationResponse,
    PatronStatus,
    PatronStatusRequest,
    PatronStatusResponse,
    RenewAllRequest,
    RenewAllResponse,
    RenewRequest,
    RenewResponse,
    RequestSCResend,
    SCStatus,
    SupportedMessages,
)
from sip2d.server import refusals
from sip2d.server.per_second import PerSecondCache
from sip2d.server.session import address_allowed, terminator_bytes
from sip2d.storage.errors import StorageError
from sip2d.storage.queries import (
    get_account_by_login,
    get_item_by_barcode,
    get_patron_by_barcode,
    holds_on_item,
    open_loan_of_item,
    patron_standing,
)
from sip2d.storage.records import (
    ItemRecord,
    KioskAccountRecord,
    LoanPolicyRecord,
    LoanRecord,
    PatronRecord,
)

if TYPE_CHECKING:
    from sip2d.server.connection import Connection as KioskConnection
    from sip2d.server.context import ServerContext

log = logging.getLogger("sip2d.server")

MSG_NOT_LOGGED_IN = "Please log in first."
MSG_OFFLINE = "The library system is not available. Please try again later."
MSG_NOT_PERMITTED = "This service is not available at this terminal."
MSG_PIN_REQUIRED = "Please enter your PIN."
MSG_UNKNOWN_PATRON = "Unknown library card. Please see library staff."
MSG_UNKNOWN_ITEM = "This item is not in our catalogue."
# Lists in a 64 are capped so a patron with thousands of loans cannot produce a frame larger
# than a kiosk's buffer; kiosks page with BP/BQ (reference 7.6, P28).
MAX_LIST_ITEMS = 200
MAGNETIC_MEDIA = {"004", "005", "007", "010"}  # audio tape, video tape, diskette, book+tape


@dataclass(frozen=True)
class Result:
    """A response and how to account for it."""

    response: Message
    outcome: str = "ok"
    store: bool = True
    close: str | None = None


@dataclass(frozen=True)
class PatronView:
    """One read of everything 23/63 need about a patron."""

    patron: PatronRecord | None
    policy: LoanPolicyRecord | None = None
    charged: int = 0
    overdue: int = 0
    lists: PatronLists | None = None


Handler = Callable[["KioskConnection", Any], Awaitable[Result]]


def cents(value: int) -> str:
    return rules.format_cents(value)


def parse_amount(text: str) -> int | None:
    """``"2.50"`` -> 250 cents; None for anything that is not a plain non-negative amount."""
    try:
        amount = Decimal(text.strip())
    except (InvalidOperation, ValueError):
        return None
    if not amount.is_finite() or amount < 0:
        return None
    return int((amount * 100).to_integral_value())


class Dispatcher:
    """Maps request types to handlers and enforces the rules common to all of them."""

    def __init__(self, ctx: ServerContext) -> None:
        self.ctx = ctx
        self._supported: dict[tuple[KioskAccountRecord | None, int], SupportedMessages] = {}
        self._status_cache: PerSecondCache[Result] = PerSecondCache()
        self.handlers: dict[type[Any], Handler] = {
            LoginRequest: self.login,
            SCStatus: self.sc_status,
            PatronStatusRequest: self.patron_status,
            PatronInformationRequest: self.patron_information,
            CheckoutRequest: self.checkout,
            CheckinRequest: self.checkin,
            ItemInformationRequest: self.item_information,
            ItemStatusUpdateRequest: self.item_status_update,
            EndPatronSessionRequest: self.end_patron_session,
            FeePaidRequest: self.fee_paid,
            HoldRequest: self.hold,
            RenewRequest: self.renew,
            RenewAllRequest: self.renew_all,
            BlockPatron: self.block_patron,
            PatronEnableRequest: self.patron_enable,
        }

    # --- helpers ---------------------------------------------------------------------------

    def institution(self, conn: KioskConnection) -> str:
        account = conn.session.account
        return account.institution_id if account else self.ctx.config.server.institution_id

    def terminal(self, conn: KioskConnection) -> rules.Terminal:
        account = conn.session.account
        return rules.Terminal(
            account_id=account.id if account else None,
            login=account.login if account else "",
            location=account.location_code if account else "",
        )

    def sip_date(self, value: datetime | None) -> datetime | None:
        """A stored naive-UTC time as a SIP2 date: local wall clock, or UTC when configured."""
        if value is None:
            return None
        aware = value.replace(tzinfo=UTC, microsecond=0)
        if self.ctx.config.server.utc_dates:
            return aware
        return aware.astimezone().replace(tzinfo=None)

    def due_text(self, value: datetime | None) -> str:
        """AH is free text (P22); the 18-character SIP2 date is what kiosks expect."""
        from sip2d.protocol.values import format_date

        return format_date(self.sip_date(value)) if value is not None else ""

    def supported(self, conn: KioskConnection) -> SupportedMessages:
        """BX that tells the truth: implemented, enabled here, and permitted to this account.

        Memoised per account record (a changed account is a different key) and configuration
        object (a reload replaces it), because kiosks ask for it with every 99 keep-alive.
        """
        account = conn.session.account
        key = (account, id(self.ctx.config))
        cached = self._supported.get(key)
        if cached is None:
            cached = self._supported[key] = self._compute_supported(conn)
        return cached

    def _compute_supported(self, conn: KioskConnection) -> SupportedMessages:
        server = self.ctx.config.server
        account = conn.session.account

        def can(permission: str) -> bool:
            return account is not None and bool(getattr(account, permission))

        return SupportedMessages(
            patron_status=True,
            checkout=can("can_checkout"),
            checkin=can("can_checkin"),
            block_patron=server.enable_block_patron and can("can_status_update"),
            sc_acs_status=True,
            request_resend=True,
            login=True,
            patron_information=True,
            end_patron_session=True,
            fee_paid=server.enable_fee_paid and can("can_fee_paid"),
            item_information=True,
            item_status_update=server.enable_item_status_update and can("can_status_update"),
            patron_enable=server.enable_patron_enable and can("can_status_update"),
            hold=server.enable_holds and can("can_hold"),
            renew=can("can_renew"),
            renew_all=can("can_renew"),
        )

    async def _read(self, fn: Callable[[Connection], Any]) -> Any:
        return await self.ctx.db.read(fn)

    async def _write(self, fn: Callable[[Connection], Any]) -> Any:
        return await self.ctx.db.write(fn)

    # --- entry points ----------------------------------------------------------------------

    async def dispatch(self, conn: KioskConnection, message: Message) -> Result:
        session = conn.session
        handler = self.handlers.get(type(message))
        if handler is None:
            # A response id (or 96) sent to the ACS: nothing to execute, ask for a resend.
            return Result(RequestSCResend(), "unexpected", store=False)
        if not session.logged_in and not isinstance(message, LoginRequest | SCStatus):
            refusal = self.refusal(conn, message, MSG_NOT_LOGGED_IN)
            return Result(refusal, "not_logged_in")
        msg_id = type(message).MESSAGE_ID
        if (
            session.logged_in
            and msg_id not in ("93", "99")
            and not self.supported(conn).supports(msg_id)
        ):
            return Result(self.refusal(conn, message, MSG_NOT_PERMITTED), "not_permitted")
        try:
            return await handler(conn, message)
        except (DBAPIError, StorageError, SQLAlchemyError, OSError) as exc:
            self.ctx.health.failed(exc)
            self.ctx.metrics.db_errors.inc()
            log.error(
                "database error",
                extra={
                    "conn": session.connection_id,
                    "msg_id": msg_id,
                    "error": type(exc).__name__,
                },
            )
            return Result(self.refusal(conn, message, MSG_OFFLINE), "db_error")

    async def bind_listener_account(self, conn: KioskConnection, login: str) -> None:
        """Ports configured without 93: every connection acts as one configured account."""
        record = await self._read(lambda c: get_account_by_login(c, login))
        if record is None or not record.enabled:
            log.error("listener account missing or disabled", extra={"account": login})
            return
        self._logged_in(conn, record)

    def _logged_in(self, conn: KioskConnection, record: Any) -> None:
        conn.session.account = record
        conn.exchange.configure(
            encoding=record.encoding or "utf-8",
            mode=record.error_detection or "auto",
            terminator=terminator_bytes(record.terminator or "CR"),
        )

    def refuse(
        self,
        conn: KioskConnection,
        message_id: str,
        reason: str,
        *,
        patron: str = "",
        item: str = "",
    ) -> Message:
        """The refusal form of the response to request ``message_id``."""
        return refusals.refusal(
            message_id,
            reason,
            when=self.ctx.sip_now(),
            institution=self.institution(conn),
            patron=patron,
            item=item,
        )

    def refusal_for(self, conn: KioskConnection, message_id: str, reason: str) -> Message | None:
        """For a frame that could not be decoded: its refusal form, or None (answer 96)."""
        response = self.refuse(conn, message_id, reason)
        return None if isinstance(response, RequestSCResend) else response

    def refusal(self, conn: KioskConnection, message: Any, reason: str) -> Message:
        """The refusal form of the response matching a decoded request."""
        return self.refuse(
            conn,
            type(message).MESSAGE_ID,
            reason,
            patron=getattr(message, "patron_identifier", "") or "",
            item=getattr(message, "item_identifier", "") or "",
        )

    # --- 93 / 99 ---------------------------------------------------------------------------

    async def login(self, conn: KioskConnection, message: LoginRequest) -> Result:
        ctx = self.ctx
        session = conn.session
        login = message.login_user_id
        ok = False
        reason = "bad credentials"
        if message.uid_algorithm != "0" or message.pwd_algorithm != "0":
            reason = "encrypted credentials not supported"
        else:
            record = await self._read(lambda c: get_account_by_login(c, login))
            if record is not None and not address_allowed(record.networks, session.address):
                reason = "address not allowed"
                record = None
            ok = await ctx.pin_checker.check_kiosk_login(
                record, message.login_password, address=session.address, now=ctx.now_utc()
            )
            if ok:
                self._logged_in(conn, record)
        if ok:
            log.info("login", extra={"conn": session.connection_id, "account": login})
            session.login_attempts = 0
            return Result(LoginResponse(ok=True), "ok")
        session.login_attempts += 1
        log.warning(
            "login refused",
            extra={
                "conn": session.connection_id,
                "account": login,
                "reason": reason,
                "peer": session.address,
            },
        )
        ctx.metrics.login_failures.labels(reason.replace(" ", "_")).inc()
        close = None
        if session.login_attempts >= ctx.config.server.max_login_attempts:
            close = "too many failed logins"
        return Result(LoginResponse(ok=False), "refused", close=close)

    def acs_status(
        self,
        conn: KioskConnection,
        *,
        online: bool,
        message: str = "",
        when: datetime | None = None,
    ) -> ACSStatus:
        server = self.ctx.config.server
        account = conn.session.account
        permitted = account is not None and online
        return ACSStatus(
            online_status=online,
            checkin_ok=permitted and bool(account and account.can_checkin),
            checkout_ok=permitted and bool(account and account.can_checkout),
            acs_renewal_policy=permitted and bool(account and account.can_renew),
            status_update_ok=permitted and bool(account and account.can_status_update),
            offline_ok=True,
            timeout_period=server.timeout_period if online else 0,
            retries_allowed=server.retries_allowed,
            date_time_sync=when or self.ctx.sip_now(),
            protocol_version="2.00",
            institution_id=self.institution(conn),
            library_name=server.library_name,
            supported_messages=self.supported(conn),
            terminal_location=account.location_code if account else "",
            screen_message=(message,) if message else (),
        )

    async def sc_status(self, conn: KioskConnection, message: SCStatus) -> Result:
        session = conn.session
        session.protocol_version = message.protocol_version
        session.max_print_width = message.max_print_width
        if not session.logged_in and not conn.listener.allow_status_before_login:
            return Result(self.refuse(conn, "99", MSG_NOT_LOGGED_IN), "not_logged_in")
        online = self.ctx.health.online
        # The 98 for a given account, configuration, health and second is built once.
        when = self.ctx.sip_now()
        return self._status_cache.get(
            (conn.session.account, online),
            when,
            self.ctx.config,
            lambda: Result(
                self.acs_status(conn, online=online, when=when), "ok" if online else "offline"
            ),
        )

    # --- patrons ---------------------------------------------------------------------------

    def _view(self, barcode: str, *, lists: bool) -> Callable[[Connection], PatronView]:
        now = self.ctx.now_utc()

        def read(c: Connection) -> PatronView:
            standing = patron_standing(c, barcode, now)
            if standing is None:
                return PatronView(None)
            patron, policy = standing.patron, standing.policy
            if lists:
                found = patron_lists(c, patron.id, now)
                return PatronView(
                    patron, policy, len(found.charged_items), len(found.overdue_items), found
                )
            return PatronView(patron, policy, standing.charged, standing.overdue)

        return read

    def _status(self, view: PatronView, pin: PinResult | None) -> PatronStatus:
        patron, policy = view.patron, view.policy
        if patron is None or policy is None:
            return PatronStatus.unknown_patron()
        now = self.ctx.now_utc()
        expired = patron.is_expired(now.date())
        barred = patron.blocked or expired
        fines = patron.fine_balance_cents > policy.fine_threshold_cents
        limit = patron.loan_limit if patron.loan_limit is not None else policy.max_loans
        too_many = view.charged >= limit
        locked = patron.pin_locked_until is not None and patron.pin_locked_until > now
        return PatronStatus(
            charge_privileges_denied=barred or fines or too_many or locked,
            renewal_privileges_denied=barred or fines,
            recall_privileges_denied=barred,
            hold_privileges_denied=barred,
            too_many_items_charged=too_many,
            too_many_items_overdue=view.overdue > 0,
            excessive_outstanding_fines=fines,
        )

    async def _patron_pin(
        self, conn: KioskConnection, patron: PatronRecord | None, barcode: str, pin: str | None
    ) -> PinResult | None:
        """None when no PIN was presented (CQ omitted); an empty PIN per ``session.empty_pin``."""
        if pin is None:
            return None
        if pin == "":
            if self.ctx.config.session.empty_pin == "omit":
                return None
            return PinResult(PinOutcome.WRONG, "Please enter your PIN.")
        session = conn.session
        result = await self.ctx.pin_checker.check(
            PatronPinState.from_row(patron) if patron is not None else None,
            pin,
            account=session.login,
            address=session.address,
            now=self.ctx.now_utc(),
            barcode=barcode,
            cache=session.pin_cache,
        )
        if result.ok:
            session.patron_barcode = barcode
        return result

    def _patron_message(self, view: PatronView, pin: PinResult | None) -> str:
        if view.patron is None:
            return MSG_UNKNOWN_PATRON
        if pin is not None and not pin.ok:
            return pin.screen_message or "Invalid PIN"
        assert view.policy is not None
        reason = rules.patron_block_reason(view.patron, view.policy, self.ctx.now_utc())
        return reason

    def _patron_response(
        self,
        cls: type[PatronStatusResponse] | type[PatronEnableResponse],
        conn: KioskConnection,
        barcode: str,
        view: PatronView,
        pin: PinResult | None,
        *,
        language: str = "000",
        text: str | None = None,
    ) -> Message:
        """24 (for 23 and 01) and 26 (for 25): one layout, built in one place."""
        patron = view.patron
        text = self._patron_message(view, pin) if text is None else text
        fields: dict[str, Any] = {
            "patron_status": self._status(view, pin),
            "language": (patron.language if patron else None) or language or "000",
            "transaction_date": self.ctx.sip_now(),
            "institution_id": self.institution(conn),
            "patron_identifier": barcode,
            "personal_name": patron.name if patron else "",
            "valid_patron": patron is not None,
            "valid_patron_password": None if pin is None else pin.ok,
            "screen_message": (text,) if text else (),
        }
        if cls is PatronStatusResponse and patron is not None:
            fields["currency_type"] = self.ctx.config.server.currency
            fields["fee_amount"] = cents(patron.fine_balance_cents)
        response: Message = cls(**fields)
        return response

    async def patron_status(self, conn: KioskConnection, message: PatronStatusRequest) -> Result:
        barcode = message.patron_identifier
        view: PatronView = await self._read(self._view(barcode, lists=False))
        pin = await self._patron_pin(conn, view.patron, barcode, message.patron_password)
        response = self._patron_response(
            PatronStatusResponse, conn, barcode, view, pin, language=message.language
        )
        return Result(response, self._outcome(view, pin))

    def _outcome(self, view: PatronView, pin: PinResult | None) -> str:
        if view.patron is None:
            return "unknown_patron"
        if pin is not None and not pin.ok:
            return f"pin_{pin.outcome.value}"
        return "ok"

    async def patron_information(
        self, conn: KioskConnection, message: PatronInformationRequest
    ) -> Result:
        barcode = message.patron_identifier
        view: PatronView = await self._read(self._view(barcode, lists=True))
        pin = await self._patron_pin(conn, view.patron, barcode, message.patron_password)
        patron = view.patron
        if patron is None or view.lists is None or view.policy is None:
            response = self.refuse(conn, "63", patron=barcode, reason=MSG_UNKNOWN_PATRON)
            return Result(response, "unknown_patron")
        found = view.lists
        selected = message.summary.selected
        chosen: dict[str, tuple[str, ...]] = {}
        if selected is not None:
            entries = getattr(found, selected)
            start = max(message.start_item or 1, 1)
            end = message.end_item or (start + MAX_LIST_ITEMS - 1)
            end = min(end, start + MAX_LIST_ITEMS - 1)
            chosen[selected] = tuple(entries[start - 1 : end])
        verified = pin is not None and pin.ok
        text = self._patron_message(view, pin)
        limit = patron.loan_limit if patron.loan_limit is not None else view.policy.max_loans
        response = PatronInformationResponse(
            patron_status=self._status(view, pin),
            language=patron.language or message.language or "000",
            transaction_date=self.ctx.sip_now(),
            hold_items_count=len(found.hold_items),
            overdue_items_count=len(found.overdue_items),
            charged_items_count=len(found.charged_items),
            fine_items_count=len(found.fine_items),
            recall_items_count=len(found.recall_items),
            unavailable_holds_count=len(found.unavailable_holds),
            institution_id=self.institution(conn),
            patron_identifier=barcode,
            personal_name=patron.name,
            charged_items_limit=min(limit, 9999),
            valid_patron=True,
            valid_patron_password=None if pin is None else pin.ok,
            currency_type=self.ctx.config.server.currency,
            fee_amount=cents(patron.fine_balance_cents),
            fee_limit=cents(view.policy.fine_threshold_cents),
            hold_items=chosen.get("hold_items", ()),
            overdue_items=chosen.get("overdue_items", ()),
            charged_items=chosen.get("charged_items", ()),
            fine_items=chosen.get("fine_items", ()),
            recall_items=chosen.get("recall_items", ()),
            unavailable_hold_items=chosen.get("unavailable_holds", ()),
            # Contact details only to a patron who proved the card is theirs.
            home_address=patron.address if verified and patron.address else None,
            email_address=patron.email if verified and patron.email else None,
            home_phone_number=patron.phone if verified and patron.phone else None,
            screen_message=(text,) if text else (),
        )
        return Result(response, self._outcome(view, pin))

    async def end_patron_session(
        self, conn: KioskConnection, message: EndPatronSessionRequest
    ) -> Result:
        session = conn.session
        session.pin_cache.forget()
        session.patron_barcode = None
        response = EndSessionResponse(
            end_session=True,
            transaction_date=self.ctx.sip_now(),
            institution_id=self.institution(conn),
            patron_identifier=message.patron_identifier,
            screen_message=("Thank you. Your session has ended.",),
        )
        return Result(response)

    async def block_patron(self, conn: KioskConnection, message: BlockPatron) -> Result:
        reason = message.blocked_card_msg or "Blocked at a self-check terminal"
        if message.card_retained:
            reason = f"Card retained: {reason}"
        return await self._set_block(
            conn, "01", message.patron_identifier, None, blocked=True, reason=reason
        )

    async def patron_enable(self, conn: KioskConnection, message: PatronEnableRequest) -> Result:
        return await self._set_block(
            conn, "25", message.patron_identifier, message.patron_password, blocked=False
        )

    async def _set_block(
        self,
        conn: KioskConnection,
        message_id: str,
        barcode: str,
        pin_text: str | None,
        *,
        blocked: bool,
        reason: str = "",
    ) -> Result:
        """01 Block Patron and 25 Patron Enable: store the block, answer with the new status."""
        terminal, now = self.terminal(conn), self.ctx.now_utc()
        record = await self._write(
            lambda c: rules.set_patron_block(
                c, terminal, barcode, now, blocked=blocked, reason=reason
            )
        )
        if record is None:
            refusal = self.refuse(conn, message_id, patron=barcode, reason=MSG_UNKNOWN_PATRON)
            return Result(refusal, "unknown_patron")
        view: PatronView = await self._read(self._view(barcode, lists=False))
        if blocked:
            text = "This card has been blocked. Please see library staff."
            response = self._patron_response(
                PatronStatusResponse, conn, barcode, view, None, text=text
            )
        else:
            pin = await self._patron_pin(conn, view.patron, barcode, pin_text)
            response = self._patron_response(
                PatronEnableResponse, conn, barcode, view, pin, text=""
            )
        return Result(response)

    # --- circulation -----------------------------------------------------------------------

    async def _circulation_pin(
        self, conn: KioskConnection, barcode: str, pin: str | None, *, offline: bool
    ) -> str | None:
        """Apply ``session.checkout_pin``; returns a refusal message, or None to go ahead."""
        mode = self.ctx.config.session.checkout_pin
        if mode == "never" or offline:
            return None
        session = conn.session
        if not pin:
            if (
                mode == "session"
                and session.patron_barcode == barcode
                and session.pin_cache.patron == barcode
            ):
                return None
            return MSG_PIN_REQUIRED
        patron = await self._read(lambda c: get_patron_by_barcode(c, barcode))
        result = await self._patron_pin(conn, patron, barcode, pin)
        if result is None or result.ok:
            return None
        if patron is None:
            return MSG_UNKNOWN_PATRON
        return result.screen_message or "Invalid PIN"

    def _circ_response(
        self,
        cls: type[Any],
        conn: KioskConnection,
        patron: str,
        item: str,
        result: rules.CircResult,
    ) -> Message:
        record: ItemRecord | None = result.item
        fee = result.fee
        response: Message = cls(
            ok=result.ok,
            renewal_ok=result.renewal,
            magnetic_media=(record.media_type in MAGNETIC_MEDIA) if record else None,
            desensitize=result.ok,
            transaction_date=self.ctx.sip_now(),
            institution_id=self.institution(conn),
            patron_identifier=patron,
            item_identifier=item,
            title_identifier=record.title if record else "",
            due_date=self.due_text(result.due_at) if result.ok else "",
            fee_type=fee.fee_type if fee else None,
            currency_type=fee.currency if fee else None,
            fee_amount=cents(fee.amount_cents) if fee else None,
            media_type=record.media_type if record else None,
            transaction_id=fee.transaction_id if fee and fee.transaction_id else None,
            screen_message=(result.message,) if result.message else (),
        )
        return response

    async def checkout(self, conn: KioskConnection, message: CheckoutRequest) -> Result:
        patron, item = message.patron_identifier, message.item_identifier
        terminal, now = self.terminal(conn), self.ctx.now_utc()
        if message.cancel:
            result = await self._write(
                lambda c: rules.cancel_checkin(c, terminal, patron, item, now)
            )
            return Result(
                self._circ_response(CheckoutResponse, conn, patron, item, result), "cancel"
            )
        refusal = await self._circulation_pin(
            conn, patron, message.patron_password, offline=message.no_block
        )
        if refusal:
            return Result(
                self.refuse(conn, "11", patron=patron, item=item, reason=refusal), "pin_refused"
            )
        transaction_at = self._stored_time(message.transaction_date)
        nb_due = self._stored_time(message.nb_due_date)
        currency = self.ctx.config.server.currency
        result = await self._write(
            lambda c: rules.checkout(
                c,
                terminal,
                patron,
                item,
                now,
                renewal_allowed=message.sc_renewal_policy,
                no_block=message.no_block,
                transaction_at=transaction_at,
                nb_due_at=nb_due,
                fee_acknowledged=bool(message.fee_acknowledged),
                currency=currency,
            )
        )
        response = self._circ_response(CheckoutResponse, conn, patron, item, result)
        return Result(response, "ok" if result.ok else "refused")

    def _stored_time(self, value: datetime | None) -> datetime | None:
        """A SIP2 date from a kiosk as naive UTC (naive SIP dates are local wall-clock time)."""
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.astimezone()
        return value.astimezone(UTC).replace(tzinfo=None)

    async def renew(self, conn: KioskConnection, message: RenewRequest) -> Result:
        patron, item = message.patron_identifier, message.item_identifier or ""
        terminal, now = self.terminal(conn), self.ctx.now_utc()
        if not item:
            return Result(
                self.refuse(
                    conn, "29", patron=patron, item=item, reason="Please say which item to renew."
                ),
                "refused",
            )
        refusal = await self._circulation_pin(
            conn, patron, message.patron_password, offline=message.no_block
        )
        if refusal:
            return Result(
                self.refuse(conn, "29", patron=patron, item=item, reason=refusal), "pin_refused"
            )
        third_party = message.third_party_allowed
        result = await self._write(
            lambda c: rules.renew(c, terminal, patron, item, now, third_party_allowed=third_party)
        )
        response = self._circ_response(RenewResponse, conn, patron, item, result)
        return Result(response, "ok" if result.ok else "refused")

    async def renew_all(self, conn: KioskConnection, message: RenewAllRequest) -> Result:
        patron = message.patron_identifier
        terminal, now = self.terminal(conn), self.ctx.now_utc()
        refusal = await self._circulation_pin(conn, patron, message.patron_password, offline=False)
        if refusal:
            return Result(self.refuse(conn, "65", reason=refusal), "pin_refused")
        result = await self._write(lambda c: rules.renew_all(c, terminal, patron, now))
        response = RenewAllResponse(
            ok=result.ok,
            renewed_count=len(result.renewed),
            unrenewed_count=len(result.unrenewed),
            transaction_date=self.ctx.sip_now(),
            institution_id=self.institution(conn),
            renewed_items=tuple(result.renewed),
            unrenewed_items=tuple(result.unrenewed),
            screen_message=(result.message,) if result.message else (),
        )
        return Result(response, "ok" if result.ok else "refused")

    async def checkin(self, conn: KioskConnection, message: CheckinRequest) -> Result:
        item = message.item_identifier
        terminal, now = self.terminal(conn), self.ctx.now_utc()
        if message.cancel:
            result = await self._write(lambda c: rules.cancel_checkout(c, terminal, item, now))
        else:
            returned = self._stored_time(message.return_date)
            currency = self.ctx.config.server.currency
            result = await self._write(
                lambda c: rules.checkin(
                    c,
                    terminal,
                    item,
                    now,
                    no_block=message.no_block,
                    returned_at=returned,
                    currency=currency,
                )
            )
        record: ItemRecord | None = result.item
        if record is None:
            return Result(
                self.refuse(conn, "09", item=item, reason=result.message or MSG_UNKNOWN_ITEM),
                "unknown_item",
            )
        hold_patron: PatronRecord | None = result.hold_patron
        # On checkin, ``patron`` is whoever had the item out.
        previous: PatronRecord | None = result.patron
        response = CheckinResponse(
            ok=result.ok,
            resensitize=result.ok and not result.alert,
            magnetic_media=record.media_type in MAGNETIC_MEDIA,
            alert=result.alert,
            transaction_date=self.ctx.sip_now(),
            institution_id=self.institution(conn),
            item_identifier=item,
            permanent_location=record.permanent_location,
            title_identifier=record.title,
            sort_bin=result.sort_bin or None,
            patron_identifier=previous.barcode if previous else None,
            media_type=record.media_type,
            call_number=record.call_number or None,
            destination_location=result.destination or None,
            alert_type=result.alert_type or None,
            hold_patron_id=hold_patron.barcode if hold_patron else None,
            hold_patron_name=hold_patron.name if hold_patron else None,
            screen_message=(result.message,) if result.message else (),
        )
        return Result(response, "ok" if result.ok else "refused")

    # --- items -----------------------------------------------------------------------------

    async def item_information(
        self, conn: KioskConnection, message: ItemInformationRequest
    ) -> Result:
        barcode = message.item_identifier

        def read(c: Connection) -> tuple[ItemRecord | None, LoanRecord | None, int]:
            item = get_item_by_barcode(c, barcode)
            if item is None:
                return None, None, 0
            waiting = sum(hold.status == "waiting" for hold in holds_on_item(c, item.id))
            return item, open_loan_of_item(c, item.id), waiting

        item, loan, queue = await self._read(read)
        if item is None:
            return Result(
                self.refuse(conn, "17", item=barcode, reason=MSG_UNKNOWN_ITEM), "unknown_item"
            )
        status = "04" if loan is not None else item.circulation_status
        fee = item.checkout_fee_cents
        response = ItemInformationResponse(
            circulation_status=status,
            security_marker=item.security_marker,
            fee_type="06" if fee else "01",
            transaction_date=self.ctx.sip_now(),
            hold_queue_length=queue if queue else None,
            due_date=self.due_text(loan.due_at) if loan else None,
            item_identifier=barcode,
            title_identifier=item.title,
            owner=item.holding_library or None,
            currency_type=self.ctx.config.server.currency if fee else None,
            fee_amount=cents(fee) if fee else None,
            media_type=item.media_type,
            permanent_location=item.permanent_location or None,
            current_location=item.current_location or None,
            item_properties=item.properties or None,
            call_number=item.call_number or None,
        )
        return Result(response)

    async def item_status_update(
        self, conn: KioskConnection, message: ItemStatusUpdateRequest
    ) -> Result:
        barcode, properties = message.item_identifier, message.item_properties or ""
        terminal, now = self.terminal(conn), self.ctx.now_utc()
        record = await self._write(
            lambda c: rules.update_item_properties(c, terminal, barcode, properties, now)
        )
        if record is None:
            return Result(self.refuse(conn, "19", MSG_UNKNOWN_ITEM, item=barcode), "unknown_item")
        response = ItemStatusUpdateResponse(
            item_properties_ok=True,
            transaction_date=self.ctx.sip_now(),
            item_identifier=barcode,
            title_identifier=record.title,
            item_properties=record.properties,
        )
        return Result(response)

    # --- fees and holds --------------------------------------------------------------------

    async def fee_paid(self, conn: KioskConnection, message: FeePaidRequest) -> Result:
        patron = message.patron_identifier
        amount = parse_amount(message.fee_amount)
        if amount is None:
            return Result(
                self.refuse(conn, "37", patron=patron, reason="Invalid amount."), "refused"
            )
        terminal, now = self.terminal(conn), self.ctx.now_utc()
        result = await self._write(
            lambda c: rules.fee_paid(
                c,
                terminal,
                patron,
                amount,
                now,
                fee_type=message.fee_type,
                payment_type=message.payment_type,
                currency=message.currency_type or self.ctx.config.server.currency,
                fee_id=message.fee_identifier or "",
                transaction_id=message.transaction_id or "",
            )
        )
        response = FeePaidResponse(
            payment_accepted=result.accepted,
            transaction_date=self.ctx.sip_now(),
            institution_id=self.institution(conn),
            patron_identifier=patron,
            transaction_id=result.transaction_id or None,
            screen_message=(result.message,),
        )
        return Result(response, "ok" if result.accepted else "refused")

    async def hold(self, conn: KioskConnection, message: HoldRequest) -> Result:
        patron = message.patron_identifier
        item = message.item_identifier or ""
        title = message.title_identifier or ""
        terminal, now = self.terminal(conn), self.ctx.now_utc()
        expires = self._stored_time(message.expiration_date)
        result = await self._write(
            lambda c: rules.hold(
                c,
                terminal,
                message.hold_mode,
                patron,
                now,
                item_barcode=item,
                title=title,
                pickup_location=message.pickup_location or "",
                expires_at=expires,
                hold_type=message.hold_type or "2",
            )
        )
        record: ItemRecord | None = result.item
        response = HoldResponse(
            ok=result.ok,
            available=result.available,
            transaction_date=self.ctx.sip_now(),
            expiration_date=self.sip_date(result.expires_at),
            queue_position=result.queue_position,
            pickup_location=result.pickup_location or None,
            institution_id=self.institution(conn),
            patron_identifier=patron,
            item_identifier=item or (record.barcode if record else None),
            title_identifier=result.title or None,
            screen_message=(result.message,) if result.message else (),
        )
        return Result(response, "ok" if result.ok else "refused")
