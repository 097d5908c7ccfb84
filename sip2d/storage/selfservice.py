"""Every statement of patron PIN self-service (issue #16): secrets, PIN changes, the outbox.

Synchronous functions over a Core ``Connection`` inside the caller's transaction (see
:class:`sip2d.storage.runner.DatabaseRunner`), with the current time ``now`` (naive UTC) from
the caller, so tests control expiry. Nothing here sees a secret in clear except to digest it
with :class:`~sip2d.auth.pin_secrets.SelfServiceKeys`; the one clear value returned is a new
set-up code, which the desk prints once.

A secret (reset link or set-up code) is live while it is unused, unrevoked, unexpired and the
patron's PIN record (and, for a link, e-mail address) is still what it was when the secret was
made. That last rule is what revokes every secret on *any* PIN change, wherever it happens
(this page, ``sip2d patron set-pin``, an import), without those places knowing about secrets.
"""

from __future__ import annotations

import dataclasses
import enum
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import Connection, and_, func, insert, select, update

from sip2d.auth import throttle
from sip2d.auth.pin_secrets import SelfServiceKeys
from sip2d.storage.audit import record_audit
from sip2d.storage.models import mail_outbox, patrons, pin_tokens
from sip2d.storage.queries import get_patron, get_patron_by_barcode
from sip2d.storage.records import PatronRecord

LINK: Final = "link"
CODE: Final = "code"
MAIL_RESET_LINK: Final = "reset_link"
MAIL_PIN_CHANGED: Final = "pin_changed"
MAIL_EMAIL_CHANGED: Final = "email_changed"
# Live links a patron may hold at once; issuing a fourth revokes the oldest.
MAX_LIVE_LINKS: Final = 3
# auth_failures scopes of the page's own limits (see throttle.charge_request).
SCOPE_FORGOT: Final = "web_forgot"
SCOPE_CODE_CARD: Final = "code_card"
SCOPE_CODE_ADDRESS: Final = "code_address"
SOURCE_WINDOW: Final = timedelta(minutes=15)

_t = pin_tokens.c
_o = mail_outbox.c


class LinkOutcome(enum.Enum):
    """What became of one request for a reset link. Never shown to the requester."""

    QUEUED = "queued"
    UNKNOWN_CARD = "unknown_card"
    NO_EMAIL = "no_email"
    TOO_SOON = "too_soon"
    DAILY_LIMIT = "daily_limit"
    GLOBAL_LIMIT = "global_limit"


class SecretGone(Exception):
    """The link or code was used, revoked, expired or outlived a PIN change meanwhile."""


@dataclasses.dataclass(frozen=True)
class MailLimits:
    """The per-patron and global brakes on reset mails (the desk is exempt from neither)."""

    interval: timedelta = timedelta(minutes=5)
    per_day: int = 5
    global_per_hour: int = 500


def card_last4(barcode: str) -> str:
    """All a mail may say of the card."""
    return barcode[-4:]


def state_for(keys: SelfServiceKeys, patron: PatronRecord, kind: str) -> str:
    return keys.state_of(patron.pin_hash, patron.email if kind == LINK else "")


def _live(now: datetime) -> object:
    return and_(_t.used_at.is_(None), _t.revoked_at.is_(None), _t.expires_at > now)


def _revoke_live(conn: Connection, patron_id: int, now: datetime, kind: str | None = None) -> int:
    condition = and_(_t.patron_id == patron_id, _live(now))  # type: ignore[arg-type]
    if kind is not None:
        condition = and_(condition, _t.kind == kind)
    return int(conn.execute(update(pin_tokens).where(condition).values(revoked_at=now)).rowcount)


def queue_mail(
    conn: Connection,
    *,
    kind: str,
    to_address: str,
    language: str,
    barcode: str,
    now: datetime,
    link_seed: str | None = None,
    expires_at: datetime | None = None,
) -> int:
    """Add one mail to the outbox; the sender renders and delivers it."""
    return int(
        conn.execute(
            insert(mail_outbox)
            .values(
                kind=kind,
                to_address=to_address,
                language=language,
                card_last4=card_last4(barcode),
                link_seed=link_seed,
                expires_at=expires_at,
                created_at=now,
                next_attempt_at=now,
                attempts=0,
                last_error="",
            )
            .returning(_o.id)
        ).scalar_one()
    )


def _mail_limit(
    conn: Connection, patron_id: int, limits: MailLimits, now: datetime
) -> LinkOutcome | None:
    created = select(func.count()).where(_t.patron_id == patron_id, _t.kind == LINK)
    if conn.execute(created.where(_t.created_at > now - limits.interval)).scalar_one():
        return LinkOutcome.TOO_SOON
    if conn.execute(created.where(_t.created_at > now - timedelta(days=1))).scalar_one() >= (
        limits.per_day
    ):
        return LinkOutcome.DAILY_LIMIT
    hour = select(func.count()).where(_o.created_at > now - timedelta(hours=1))
    if conn.execute(hour).scalar_one() >= limits.global_per_hour:
        return LinkOutcome.GLOBAL_LIMIT
    return None


def issue_reset_link(
    conn: Connection,
    keys: SelfServiceKeys,
    barcode: str,
    *,
    now: datetime,
    minutes: int,
    language: str,
    limits: MailLimits,
) -> LinkOutcome:
    """Make a reset link for the card ``barcode`` and queue its mail, if the card has an
    e-mail address and no limit stands in the way. Extras are dropped, not refused: the
    caller answers the same whatever this returns."""
    patron = get_patron_by_barcode(conn, barcode)
    if patron is None:
        return LinkOutcome.UNKNOWN_CARD
    if not patron.email:
        return LinkOutcome.NO_EMAIL
    limited = _mail_limit(conn, patron.id, limits, now)
    if limited is not None:
        return limited
    seed = keys.new_seed()
    digest = keys.token_digest(keys.token_for(seed))
    assert digest is not None
    expires = now + timedelta(minutes=minutes)
    conn.execute(
        insert(pin_tokens).values(
            patron_id=patron.id,
            kind=LINK,
            digest=digest,
            state=state_for(keys, patron, LINK),
            created_at=now,
            expires_at=expires,
        )
    )
    live = conn.execute(
        select(_t.id)
        .where(_t.patron_id == patron.id, _t.kind == LINK, _live(now))  # type: ignore[arg-type]
        .order_by(_t.id.desc())
    ).scalars()
    extra = list(live)[MAX_LIVE_LINKS:]
    if extra:
        conn.execute(update(pin_tokens).where(_t.id.in_(extra)).values(revoked_at=now))
    queue_mail(
        conn,
        kind=MAIL_RESET_LINK,
        to_address=patron.email,
        language=language,
        barcode=patron.barcode,
        now=now,
        link_seed=seed,
        expires_at=expires,
    )
    return LinkOutcome.QUEUED


def issue_setup_code(
    conn: Connection, keys: SelfServiceKeys, patron: PatronRecord, *, now: datetime, hours: int
) -> str:
    """A new desk code for ``patron`` (earlier live codes are revoked); printed once."""
    _revoke_live(conn, patron.id, now, CODE)
    while True:
        code = keys.new_code()
        digest = keys.code_digest(patron.barcode, code)
        assert digest is not None
        taken = conn.execute(select(_t.id).where(_t.digest == digest)).first()
        if taken is None:
            break
    conn.execute(
        insert(pin_tokens).values(
            patron_id=patron.id,
            kind=CODE,
            digest=digest,
            state=state_for(keys, patron, CODE),
            created_at=now,
            expires_at=now + timedelta(hours=hours),
        )
    )
    return code


def live_secret(
    conn: Connection, keys: SelfServiceKeys, digest: str, kind: str, now: datetime
) -> PatronRecord | None:
    """The patron a live secret with this digest belongs to, or None. Reads only: a link
    is checked this way on every GET (mail scanners fetch links) and stays usable."""
    row = conn.execute(
        select(_t.patron_id, _t.state).where(
            _t.digest == digest,
            _t.kind == kind,
            _live(now),  # type: ignore[arg-type]
        )
    ).first()
    return _holder(conn, keys, row, kind)


def _holder(conn: Connection, keys: SelfServiceKeys, row: Any, kind: str) -> PatronRecord | None:
    """The patron a found secret (``row``: patron_id, state) still belongs to: None when there
    was no row, the patron is gone, or their PIN record or address changed since it was made."""
    if row is None:
        return None
    patron = get_patron(conn, int(row.patron_id))
    if patron is None or state_for(keys, patron, kind) != row.state:
        return None
    return patron


def consume_secret(
    conn: Connection, keys: SelfServiceKeys, digest: str, kind: str, now: datetime
) -> PatronRecord:
    """Use a live secret up, in the caller's transaction; :class:`SecretGone` if it is not
    live. Of two transactions consuming the same secret at once exactly one succeeds: the
    conditional UPDATE is the arbiter on both engines."""
    row = conn.execute(
        update(pin_tokens)
        .where(_t.digest == digest, _t.kind == kind, _live(now))  # type: ignore[arg-type]
        .values(used_at=now)
        .returning(_t.patron_id, _t.state)
    ).first()
    patron = _holder(conn, keys, row, kind)
    if patron is None:
        raise SecretGone
    return patron


def store_new_pin(
    conn: Connection,
    patron: PatronRecord,
    pin_hash: str,
    *,
    now: datetime,
    actor: str,
    action: str,
    language: str,
) -> None:
    """The one PIN change of the self-service flows: store the hash, clear failures and lock,
    revoke every live link and code, queue the "your PIN was changed" notice, audit it."""
    conn.execute(
        update(patrons)
        .where(patrons.c.id == patron.id)
        .values(
            pin_hash=pin_hash,
            pin_failures=0,
            pin_locked_until=None,
            pin_must_change=False,
            updated_at=now,
        )
    )
    revoked = _revoke_live(conn, patron.id, now)
    if patron.email:
        queue_mail(
            conn,
            kind=MAIL_PIN_CHANGED,
            to_address=patron.email,
            language=language,
            barcode=patron.barcode,
            now=now,
        )
    record_audit(
        conn,
        actor=actor,
        action=action,
        subject=f"patron:{patron.barcode}",
        detail={"revoked_secrets": revoked, "notice_mailed": bool(patron.email)},
        at=now,
    )


def email_changed(
    conn: Connection, patron: PatronRecord, new_email: str, *, now: datetime, language: str
) -> None:
    """Tell the old address that the e-mail address changed, and revoke live links (they
    are bound to the old address anyway: this makes it explicit in the table)."""
    _revoke_live(conn, patron.id, now, LINK)
    if patron.email and patron.email != new_email:
        queue_mail(
            conn,
            kind=MAIL_EMAIL_CHANGED,
            to_address=patron.email,
            language=language,
            barcode=patron.barcode,
            now=now,
        )


def charge_source(conn: Connection, scope: str, key: str, *, limit: int, now: datetime) -> bool:
    """One request counted against a client address (or card) for the page's own limits."""
    if not key:
        return True
    return throttle.charge_request(conn, scope, key, limit=limit, window=SOURCE_WINDOW, now=now)


def over_limit(conn: Connection, scope: str, key: str, *, limit: int, now: datetime) -> bool:
    """Whether ``key`` already used its ``limit`` under ``scope`` (nothing counted)."""
    if not key:
        return False
    used = throttle.requests_within(conn, scope, key, window=SOURCE_WINDOW, now=now)
    return used >= limit


# --- the outbox ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class DueMail:
    id: int
    kind: str
    to_address: str
    language: str
    card_last4: str
    link_seed: str | None = dataclasses.field(repr=False)
    expires_at: datetime | None
    attempts: int


def claim_due_mail(
    conn: Connection, *, now: datetime, lease: timedelta, limit: int = 20, only: int | None = None
) -> list[DueMail]:
    """Mails due now, each leased for ``lease`` (so two senders never both send one); a
    sender that dies mid-send leaves the mail due again when the lease ends."""
    due = select(_o.id).where(
        _o.sent_at.is_(None), _o.failed_at.is_(None), _o.next_attempt_at <= now
    )
    if only is not None:
        due = due.where(_o.id == only)
    ids = list(conn.execute(due.order_by(_o.id).limit(limit)).scalars())
    claimed: list[DueMail] = []
    for mail_id in ids:
        row = conn.execute(
            update(mail_outbox)
            .where(_o.id == mail_id, _o.sent_at.is_(None), _o.next_attempt_at <= now)
            .values(next_attempt_at=now + lease, attempts=_o.attempts + 1)
            .returning(
                _o.id,
                _o.kind,
                _o.to_address,
                _o.language,
                _o.card_last4,
                _o.link_seed,
                _o.expires_at,
                _o.attempts,
            )
        ).first()
        if row is not None:
            claimed.append(DueMail(*row))
    return claimed


def mail_sent(conn: Connection, mail_id: int, now: datetime) -> None:
    """Delivered: the seed goes, so not even the pepper can rebuild the link from here on."""
    conn.execute(
        update(mail_outbox)
        .where(_o.id == mail_id)
        .values(sent_at=now, link_seed=None, last_error="")
    )


def mail_failed(
    conn: Connection, mail_id: int, *, error: str, retry_at: datetime | None, now: datetime
) -> None:
    """Not delivered: try again at ``retry_at``, or give up (None) and erase the seed."""
    values: dict[str, object] = {"last_error": error[:255]}
    if retry_at is None:
        values.update(failed_at=now, link_seed=None)
    else:
        values["next_attempt_at"] = retry_at
    conn.execute(update(mail_outbox).where(_o.id == mail_id).values(**values))
