"""What each form does, apart from HTTP: forgot, reset, change and set-up.

Each flow returns an :class:`Outcome` the page turns into text; none of them says more than the
page may show. Every PIN the page stores is hashed behind the page's own argon2 limiter (the
``web_gate``), and every current PIN goes through the kiosks' gate logic and shared counters,
so failures here lock the card at the kiosk and the other way round.

``/pin/forgot`` answers before it looks at the card: the request is handed to a queue that one
task works through, so the answer, and how long it takes, cannot depend on whether the card
exists, has an e-mail address, is locked or already has a link pending. A full queue drops the
request (same answer); the limits that apply are checked by that task.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Final

import trio
from sqlalchemy import Connection

from sip2d.auth.gate import PatronPinState, PinGate
from sip2d.auth.pin_secrets import SelfServiceKeys
from sip2d.auth.policy import PinPolicy
from sip2d.config import Config
from sip2d.storage import selfservice
from sip2d.storage.queries import get_patron_by_barcode
from sip2d.storage.records import PatronRecord
from sip2d.storage.runner import DatabaseRunner
from sip2d.storage.sqltime import stored_now
from sip2d.web.i18n import mail_language

log = logging.getLogger("sip2d.web")

ACTOR: Final = "web"
FORGOT_QUEUE: Final = 256


class Outcome(enum.Enum):
    CHANGED = "changed"
    # The form needs fixing (errors name the fields).
    INVALID = "invalid"
    # Card or current PIN / set-up code not accepted (also: locked, limited).
    REFUSED = "refused"
    # The link is used, expired or revoked.
    LINK_GONE = "link_gone"


class _Limited(enum.Enum):
    """A link request dropped before the card was looked at."""

    SOURCE = "source_limit"


@dataclasses.dataclass(frozen=True)
class Result:
    outcome: Outcome
    errors: dict[str, str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class ForgotRequest:
    card: str
    address: str
    language: str


Gettext = Callable[[str], str]


class PinFlows:
    def __init__(
        self,
        config: Config,
        db: DatabaseRunner,
        web_gate: PinGate,
        policy: PinPolicy,
        keys: SelfServiceKeys,
        *,
        clock: Callable[[], datetime] = stored_now,
        on_mail_queued: Callable[[], None] = lambda: None,
    ) -> None:
        self.config = config
        self.db = db
        self.gate = web_gate
        self.policy = policy
        self.keys = keys
        self.clock = clock
        self.on_mail_queued = on_mail_queued
        self._forgot_in, self._forgot_out = trio.open_memory_channel[ForgotRequest](FORGOT_QUEUE)
        self._pending = 0
        self._idle = trio.Event()
        self._idle.set()
        self.dropped = 0

    @property
    def limits(self) -> selfservice.MailLimits:
        web = self.config.web
        return selfservice.MailLimits(
            interval=timedelta(minutes=web.mail_interval_minutes),
            per_day=web.mails_per_patron_per_day,
            global_per_hour=self.config.mail.max_per_hour,
        )

    # --- forgot -----------------------------------------------------------------------------

    def forgot(self, card: str, address: str, language: str) -> None:
        """Queue a link request; returns at once whatever the card (see the module doc)."""
        try:
            self._forgot_in.send_nowait(ForgotRequest(card, address, language))
        except trio.WouldBlock:
            self.dropped += 1
            return
        self._pending += 1
        self._idle = trio.Event() if self._idle.is_set() else self._idle

    async def drained(self) -> None:
        """Wait until every queued link request is handled (tests, shutdown)."""
        await self._idle.wait()

    async def run_forgot_worker(
        self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        task_status.started()
        async for request in self._forgot_out:
            try:
                outcome = await self._issue_link(request)
                if outcome is selfservice.LinkOutcome.QUEUED:
                    self.on_mail_queued()
                log.info("reset link request", extra={"outcome": outcome.value})
            except Exception as exc:
                log.warning("reset link request failed", extra={"error": type(exc).__name__})
            finally:
                self._pending -= 1
                if self._pending == 0:
                    self._idle.set()

    async def _issue_link(self, request: ForgotRequest) -> selfservice.LinkOutcome | _Limited:
        now = self.clock()
        web = self.config.web
        keys = self.keys
        limits = self.limits

        def work(conn: Connection) -> selfservice.LinkOutcome | _Limited:
            if not selfservice.charge_source(
                conn,
                selfservice.SCOPE_FORGOT,
                request.address,
                limit=web.forgot_per_address,
                now=now,
            ):
                return _Limited.SOURCE
            patron = get_patron_by_barcode(conn, request.card)
            language = mail_language(patron.language if patron else "", request.language)
            return selfservice.issue_reset_link(
                conn,
                keys,
                request.card,
                now=now,
                minutes=web.link_minutes,
                language=language,
                limits=limits,
            )

        return await self.db.write(work)

    # --- new PINs -----------------------------------------------------------------------------

    def new_pin_errors(self, new_pin: str, again: str, _: Gettext) -> dict[str, str]:
        """Policy and repetition, checked before anything else (they reveal nothing)."""
        reason = self.policy.check(new_pin, _)
        if reason is not None:
            return {"new_pin": reason}
        if again != new_pin:
            return {"new_pin_again": _("The two new PINs are not the same.")}
        return {}

    async def _store(self, patron: PatronRecord, new_pin: str, action: str, language: str) -> None:
        pin_hash = await self.gate.hash(new_pin)
        now = self.clock()
        lang = mail_language(patron.language, language)
        await self.db.write(
            lambda conn: selfservice.store_new_pin(
                conn, patron, pin_hash, now=now, actor=ACTOR, action=action, language=lang
            )
        )
        self.on_mail_queued()

    # --- reset (mailed link) -----------------------------------------------------------------

    async def link_patron(self, token: str) -> PatronRecord | None:
        """The patron of a live link, without using it up (mail scanners fetch links)."""
        digest = self.keys.token_digest(token)
        if digest is None:
            return None
        now = self.clock()
        keys = self.keys
        return await self.db.read(
            lambda conn: selfservice.live_secret(conn, keys, digest, selfservice.LINK, now)
        )

    async def reset(
        self, token: str, new_pin: str, again: str, language: str, _: Gettext
    ) -> Result:
        errors = self.new_pin_errors(new_pin, again, _)
        if errors:
            return Result(Outcome.INVALID, errors)
        if await self.link_patron(token) is None:
            return Result(Outcome.LINK_GONE)
        digest = self.keys.token_digest(token)
        assert digest is not None
        return await self._redeem(
            selfservice.LINK, digest, new_pin, language, "pin.reset", gone=Outcome.LINK_GONE
        )

    async def _redeem(
        self, kind: str, digest: str, new_pin: str, language: str, action: str, *, gone: Outcome
    ) -> Result:
        """Use up a link or desk code and store the new PIN, in one transaction: the secret is
        consumed, the hash stored, failures and lock cleared, other secrets revoked and the
        notice queued together, or nothing happens (``gone`` when the secret was used or
        revoked meanwhile)."""
        pin_hash = await self.gate.hash(new_pin)
        now = self.clock()
        keys = self.keys

        def work(conn: Connection) -> None:
            patron = selfservice.consume_secret(conn, keys, digest, kind, now)
            selfservice.store_new_pin(
                conn,
                patron,
                pin_hash,
                now=now,
                actor=ACTOR,
                action=action,
                language=mail_language(patron.language, language),
            )

        try:
            await self.db.write(work)
        except selfservice.SecretGone:
            return Result(gone)
        self.on_mail_queued()
        return Result(Outcome.CHANGED)

    # --- change (current PIN) ----------------------------------------------------------------

    async def change(
        self,
        card: str,
        current_pin: str,
        new_pin: str,
        again: str,
        *,
        address: str,
        language: str,
        _: Gettext,
    ) -> Result:
        errors = self.new_pin_errors(new_pin, again, _)
        if not current_pin:
            errors = {"current_pin": _("Enter your current PIN."), **errors}
        if not errors and new_pin == current_pin:
            errors["new_pin"] = _("The new PIN must be different from the current one.")
        if errors:
            return Result(Outcome.INVALID, errors)
        patron = await self.db.read(lambda conn: get_patron_by_barcode(conn, card))
        state = PatronPinState.from_row(patron) if patron is not None else None
        checked = await self.gate.check(
            state, current_pin, account="", address=address, now=self.clock(), barcode=card
        )
        if not checked.ok or patron is None:
            return Result(Outcome.REFUSED)
        await self._store(patron, new_pin, "pin.change", language)
        return Result(Outcome.CHANGED)

    # --- set-up (desk code) ------------------------------------------------------------------

    async def setup(
        self,
        card: str,
        code: str,
        new_pin: str,
        again: str,
        *,
        address: str,
        language: str,
        _: Gettext,
    ) -> Result:
        errors = self.new_pin_errors(new_pin, again, _)
        if not code:
            errors = {"code": _("Enter the set-up code from the desk."), **errors}
        if errors:
            return Result(Outcome.INVALID, errors)
        web = self.config.web
        now = self.clock()
        keys = self.keys
        digest = keys.code_digest(card, code)

        def check(conn: Connection) -> PatronRecord | None:
            """The code's patron, or None after counting the failure (one transaction)."""
            limited = selfservice.over_limit(
                conn,
                selfservice.SCOPE_CODE_ADDRESS,
                address,
                limit=web.code_failures_per_address,
                now=now,
            ) or selfservice.over_limit(
                conn, selfservice.SCOPE_CODE_CARD, card, limit=web.code_failures_per_card, now=now
            )
            patron = None
            if not limited and digest is not None:
                patron = selfservice.live_secret(conn, keys, digest, selfservice.CODE, now)
            if patron is not None and patron.barcode == card:
                return patron
            if not limited:
                for scope, key in (
                    (selfservice.SCOPE_CODE_ADDRESS, address),
                    (selfservice.SCOPE_CODE_CARD, card),
                ):
                    selfservice.charge_source(conn, scope, key, limit=1 << 30, now=now)
            return None

        if await self.db.write(check) is None or digest is None:
            return Result(Outcome.REFUSED)
        return await self._redeem(
            selfservice.CODE, digest, new_pin, language, "pin.setup", gone=Outcome.REFUSED
        )
