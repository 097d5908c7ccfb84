"""What a handler is given: one connection's session and the daemon's services, nothing more.

Handlers never see the :class:`~sip2d.server.connection.Connection` (its socket, its frame
buffer, its clocks) nor the PIN hasher: they get a :class:`HandlerContext` with the session,
the configuration, the clock, the database runner and the PIN gate. The rules every handler
needs — when a PIN must be presented, how a presented one is checked, how a refusal is built —
live here once, below the handlers, so a new handler cannot forget them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, Protocol, TypeVar

from sqlalchemy import Connection

from sip2d.auth.gate import PatronPinState, PinGate, PinOutcome, PinResult
from sip2d.circulation import rules
from sip2d.config import Config
from sip2d.protocol import Message
from sip2d.server import refusals
from sip2d.server.context import ServerContext
from sip2d.server.health import DatabaseHealth
from sip2d.server.metrics import Metrics
from sip2d.server.session import Session, terminator_bytes
from sip2d.server.wire_time import WireClock
from sip2d.storage.queries import get_patron_by_barcode
from sip2d.storage.records import KioskAccountRecord, PatronRecord

# PIN outcomes that [web] kiosk_hint replaces with its one text.
_HINTED: Final = frozenset({PinOutcome.WRONG, PinOutcome.LOCKED, PinOutcome.NO_PIN})

T = TypeVar("T")

MSG_NOT_LOGGED_IN: Final = "Please log in first."
MSG_OFFLINE: Final = "The library system is not available. Please try again later."
MSG_NOT_PERMITTED: Final = "This service is not available at this terminal."
MSG_PIN_REQUIRED: Final = "Please enter your PIN."
MSG_UNKNOWN_PATRON: Final = "Unknown library card. Please see library staff."
MSG_UNKNOWN_ITEM: Final = "This item is not in our catalogue."
MSG_INVALID_PIN: Final = "Invalid PIN"


@dataclass(frozen=True)
class Result:
    """A response and how to account for it."""

    response: Message
    outcome: str = "ok"
    store: bool = True
    close: str | None = None
    # Request attributes to mask in the DEBUG log line beyond the codec's secrets (AD, AC,
    # CO): what this answer shows to be a secret, such as the login name of a refused 93.
    hide: frozenset[str] = frozenset()


class WireSettings(Protocol):
    """The part of the connection's exchange a login may change."""

    def configure(self, *, encoding: str, mode: str, terminator: bytes) -> None: ...


class HandlerContext:
    """One connection's view of the daemon, handed to every handler of that connection."""

    __slots__ = ("_server", "_wire", "session", "status_before_login")

    def __init__(
        self,
        server: ServerContext,
        session: Session,
        wire: WireSettings,
        *,
        status_before_login: bool = False,
    ) -> None:
        self._server = server
        self._wire = wire
        self.session = session
        self.status_before_login = status_before_login

    # --- services ----------------------------------------------------------------------------

    @property
    def config(self) -> Config:
        """The configuration in force (a reload replaces it between messages)."""
        return self._server.config

    @property
    def gate(self) -> PinGate:
        return self._server.gate

    @property
    def health(self) -> DatabaseHealth:
        return self._server.health

    @property
    def metrics(self) -> Metrics:
        return self._server.metrics

    @property
    def clock(self) -> WireClock:
        """Now, and conversions between stored times and SIP2 dates."""
        return self._server.wire

    async def read(self, fn: Callable[[Connection], T]) -> T:
        result = await self._server.db.read(fn)
        if not self._server.health.online:
            self._server.health.succeeded()  # the database answered: on line from now on
        return result

    async def write(self, fn: Callable[[Connection], T]) -> T:
        result = await self._server.db.write(fn)
        if not self._server.health.online:
            self._server.health.succeeded()
        return result

    # --- who is asking ---------------------------------------------------------------------

    @property
    def account(self) -> KioskAccountRecord | None:
        return self.session.account

    @property
    def institution(self) -> str:
        account = self.session.account
        return account.institution_id if account else self.config.server.institution_id

    def terminal(self) -> rules.Terminal:
        account = self.session.account
        return rules.Terminal(
            account_id=account.id if account else None,
            login=account.login if account else "",
            location=account.location_code if account else "",
        )

    def log_in(self, record: KioskAccountRecord) -> None:
        """Bind the connection to a kiosk account and switch to the account's wire settings."""
        self.session.account = record
        self._wire.configure(
            encoding=record.encoding or "utf-8",
            mode=record.error_detection or "auto",
            terminator=terminator_bytes(record.terminator or "CR"),
        )

    # --- refusals ----------------------------------------------------------------------------

    def refuse(self, message_id: str, reason: str, *, patron: str = "", item: str = "") -> Message:
        """The refusal form of the response to request ``message_id``."""
        return refusals.refusal(
            message_id,
            reason,
            when=self.clock.now_wire(),
            institution=self.institution,
            patron=patron,
            item=item,
        )

    def refusal(self, message: Any, reason: str) -> Message:
        """The refusal form of the response matching a decoded request."""
        return self.refuse(
            type(message).MESSAGE_ID,
            reason,
            patron=getattr(message, "patron_identifier", "") or "",
            item=getattr(message, "item_identifier", "") or "",
        )

    # --- PINs: the only way a handler reaches the gate -----------------------------------------

    async def check_pin(
        self, patron: PatronRecord | None, barcode: str, pin: str | None
    ) -> PinResult | None:
        """A PIN presented with a patron request (23, 63, 25): None when AD was omitted.

        An empty AD counts as omitted or as wrong, by ``session.empty_pin``; any other value
        goes through the gate.
        """
        if pin is None:
            return None
        if pin == "":
            if self.config.session.empty_pin == "omit":
                return None
            return PinResult(PinOutcome.WRONG, MSG_PIN_REQUIRED)
        session = self.session
        result = await self.gate.check(
            PatronPinState.from_row(patron) if patron is not None else None,
            pin,
            account=session.login,
            address=session.address,
            now=self.clock.now_stored(),
            barcode=barcode,
            cache=session.pin_cache,
        )
        if result.ok:
            session.patron_barcode = barcode
        elif self.config.web.kiosk_hint and result.outcome in _HINTED:
            # One text for a wrong, locked or missing PIN, so the kiosk reveals which it was
            # to nobody, and points the patron to the PIN page (issue #16).
            result = dataclasses.replace(result, screen_message=self.config.web.kiosk_hint)
        return result

    async def authorise(self, barcode: str, pin: str | None, *, required: bool) -> str | None:
        """The PIN rule for a patron transaction (11, 29, 65, 15, 37): None to go ahead, or
        the screen message of the refusal.

        A non-empty PIN is always verified, whatever the settings: a wrong one refuses the
        transaction before anything changes. With no PIN, ``required`` transactions follow
        ``session.checkout_pin``: "never" goes ahead, "session" goes ahead when this
        connection verified the patron's current PIN in this patron session, "always" asks.
        """
        if pin:
            patron = await self.read(lambda c: get_patron_by_barcode(c, barcode))
            result = await self.check_pin(patron, barcode, pin)
            assert result is not None
            if result.ok:
                return None
            if patron is None:
                return MSG_UNKNOWN_PATRON
            return result.screen_message or MSG_INVALID_PIN
        if not required or await self.vouched_without_pin(barcode):
            return None
        return MSG_PIN_REQUIRED

    async def vouched_without_pin(self, barcode: str) -> bool:
        """Whether a request for ``barcode`` that carries no PIN may act or see private data:
        ``session.checkout_pin`` "never", or "session" with this connection's verification of
        the patron's current PIN in this patron session."""
        mode = self.config.session.checkout_pin
        if mode == "never":
            return True
        if mode == "session" and self.session.patron_barcode == barcode:
            patron = await self.read(lambda c: get_patron_by_barcode(c, barcode))
            state = PatronPinState.from_row(patron) if patron is not None else None
            return self.gate.remembered(state, self.session.pin_cache, self.clock.now_stored())
        return False
