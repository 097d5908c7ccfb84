"""What each simulated kiosk sends: scenarios turned into precomputed request frames.

Every frame a kiosk will ever send is encoded (with its sequence number and checksum) before
the clock starts, so the measured loop only writes bytes it already has. A kiosk's loop is a
ring of :class:`Step` that it walks forever; each step knows the response id it expects and
the rule that tells ok from refused (:mod:`sip2d.bench.classify`).

Sequence numbers run 0..9 round the ring (its length is padded to a multiple of ten) so no
two consecutive requests carry the same ``AY``: a SIP2 server rightly treats a repeated
sequence number and checksum as a retransmission and replays its last answer (reference 3.5),
which would measure the replay path instead of the work.

Scenarios (``SCENARIOS``):

``keepalive``      99 SC Status only: the protocol and transport cost of one message.
``patron-status``  23 without a PIN, a different patron each time: one indexed read.
``patron-pin``     23 with the patron's PIN, a different patron each time, so the server's
                   session cache never answers and every message runs one argon2 verify.
``session``        one patron at the kiosk: 23 with PIN, 63, three 11 checkouts, three 09
                   checkins, 35; then the next patron. (93 login once per connection.)
``mixed``          a day at a branch: a session, a 99 keep-alive, a card check (23 without
                   PIN) for another patron, another 99; repeated.

Kiosk ``k`` of ``n`` only touches its own patrons and items (:class:`Dataset`), so kiosks never
compete for an item; before the clock starts it checks in the items it will lend, which
clears loans left open by an interrupted earlier run.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sip2d.bench.classify import Rule
from sip2d.bench.dataset import LOCATION, Dataset, item_barcode, patron_barcode, patron_pin
from sip2d.protocol import (
    CheckinRequest,
    CheckoutRequest,
    EndPatronSessionRequest,
    LoginRequest,
    Message,
    PatronInformationRequest,
    PatronStatusRequest,
    SCStatus,
    encode,
)

# Distinct patrons (or sessions) in one kiosk's ring before it repeats.
PATRON_RING: Final = 100
SESSION_RING: Final = 10
ITEMS_PER_SESSION: Final = 3

# Step marks, counted when the response is ok.
MARK_LOAN: Final = 1
MARK_SESSION_END: Final = 2


class ScenarioError(ValueError):
    """The dataset cannot support this scenario with this many kiosks."""


@dataclass(frozen=True)
class Request:
    """One request before sequence numbering."""

    message: Message
    response_id: bytes
    rule: Rule
    # A kiosk may stop before this request (it starts a patron session or stands alone).
    boundary: bool = True
    mark: int = 0


@dataclass(frozen=True)
class Step:
    """One request of the ring, encoded."""

    frame: bytes
    label: str
    response_id: bytes
    rule: Rule
    boundary: bool
    mark: int


@dataclass(frozen=True)
class KioskPlan:
    """Everything one kiosk sends: login, warm-up (not measured) and its ring."""

    index: int
    login: Step | None
    warmup: tuple[Step, ...]
    ring: tuple[Step, ...]


@dataclass(frozen=True)
class Credentials:
    user: str
    password: str

    def __repr__(self) -> str:
        return f"Credentials(user={self.user!r})"


def _encode(request: Request, sequence: int) -> Step:
    frame = encode(request.message, "utf-8", sequence=sequence, checksum=True)
    return Step(
        frame,
        request.message.MESSAGE_ID,
        request.response_id,
        request.rule,
        request.boundary,
        request.mark,
    )


def number(requests: Sequence[Request]) -> tuple[Step, ...]:
    """Encode a ring, repeating it until its length is a multiple of 10 (sequence 0..9)."""
    if not requests:
        return ()
    repeat = math.lcm(len(requests), 10) // len(requests)
    ring = list(requests) * repeat
    return tuple(_encode(request, position % 10) for position, request in enumerate(ring))


def number_before(requests: Sequence[Request], follows: int = 0) -> tuple[Step, ...]:
    """Encode a straight run whose last sequence number is just before ``follows``."""
    count = len(requests)
    return tuple(_encode(r, (follows - count + k) % 10) for k, r in enumerate(requests))


class Builder:
    """Builds the requests of one kiosk; one instance per plan, all dates fixed at build."""

    def __init__(self, institution: str, now: datetime | None = None) -> None:
        self.institution = institution
        self.now = (now or datetime.now()).replace(microsecond=0)

    def login(self, credentials: Credentials) -> Request:
        message = LoginRequest(
            uid_algorithm="0",
            pwd_algorithm="0",
            login_user_id=credentials.user,
            login_password=credentials.password,
            location_code=LOCATION,
        )
        return Request(message, b"94", Rule.FLAG_1)

    def sc_status(self) -> Request:
        message = SCStatus(status_code="0", max_print_width=40, protocol_version="2.00")
        return Request(message, b"98", Rule.FLAG_Y)

    def patron_status(self, patron: int, *, pin: bool, boundary: bool = True) -> Request:
        message = PatronStatusRequest(
            language="000",
            transaction_date=self.now,
            institution_id=self.institution,
            patron_identifier=patron_barcode(patron),
            terminal_password="",
            patron_password=patron_pin(patron) if pin else "",
        )
        return Request(message, b"24", Rule.PATRON_PIN if pin else Rule.PATRON, boundary)

    def patron_information(self, patron: int) -> Request:
        message = PatronInformationRequest(
            language="000",
            transaction_date=self.now,
            institution_id=self.institution,
            patron_identifier=patron_barcode(patron),
            terminal_password="",
            patron_password=patron_pin(patron),
        )
        return Request(message, b"64", Rule.PATRON_PIN, boundary=False)

    def checkout(self, patron: int, item: int) -> Request:
        message = CheckoutRequest(
            sc_renewal_policy=True,
            no_block=False,
            transaction_date=self.now,
            nb_due_date=None,
            institution_id=self.institution,
            patron_identifier=patron_barcode(patron),
            item_identifier=item_barcode(item),
            terminal_password="",
        )
        return Request(message, b"12", Rule.FLAG_1, boundary=False, mark=MARK_LOAN)

    def checkin(self, item: int, *, boundary: bool = False) -> Request:
        message = CheckinRequest(
            no_block=False,
            transaction_date=self.now,
            return_date=self.now,
            current_location=LOCATION,
            institution_id=self.institution,
            item_identifier=item_barcode(item),
            terminal_password="",
        )
        return Request(message, b"10", Rule.FLAG_1, boundary=boundary)

    def end_session(self, patron: int) -> Request:
        message = EndPatronSessionRequest(
            transaction_date=self.now,
            institution_id=self.institution,
            patron_identifier=patron_barcode(patron),
        )
        return Request(message, b"36", Rule.FLAG_Y, boundary=False, mark=MARK_SESSION_END)

    def session(self, patron: int, lent: Sequence[int]) -> list[Request]:
        return [
            self.patron_status(patron, pin=True),
            self.patron_information(patron),
            *(self.checkout(patron, item) for item in lent),
            *(self.checkin(item) for item in lent),
            self.end_session(patron),
        ]


@dataclass(frozen=True)
class Scenario:
    name: str
    summary: str
    needs_login: bool
    build: Callable[[Builder, Dataset, int, int], tuple[list[Request], list[Request]]]


def _patrons(dataset: Dataset, kiosk: int, kiosks: int, minimum: int) -> list[int]:
    owned = dataset.patrons_of(kiosk, kiosks, PATRON_RING)
    if len(owned) < minimum:
        raise ScenarioError(
            f"needs at least {minimum} patron(s) per kiosk: seed at least "
            f"{minimum * kiosks} patrons for {kiosks} kiosks (or pass --patrons to match the seed)"
        )
    return owned


def _sessions(
    builder: Builder, dataset: Dataset, kiosk: int, kiosks: int
) -> tuple[list[tuple[int, list[int]]], list[Request]]:
    patrons = _patrons(dataset, kiosk, kiosks, 1)
    items = dataset.items_of(kiosk, kiosks, SESSION_RING * ITEMS_PER_SESSION)
    if len(items) < ITEMS_PER_SESSION:
        raise ScenarioError(
            f"needs {ITEMS_PER_SESSION} items per kiosk: seed at least "
            f"{ITEMS_PER_SESSION * kiosks} items for {kiosks} kiosks (or pass --items to match)"
        )
    count = min(SESSION_RING, len(patrons), len(items) // ITEMS_PER_SESSION)
    sessions = [
        (patrons[s], items[s * ITEMS_PER_SESSION : (s + 1) * ITEMS_PER_SESSION])
        for s in range(count)
    ]
    lent = [item for _, chunk in sessions for item in chunk]
    return sessions, [builder.checkin(item, boundary=True) for item in lent]


def _keepalive(b: Builder, d: Dataset, k: int, n: int) -> tuple[list[Request], list[Request]]:
    return [b.sc_status()], []


def _patron_status(b: Builder, d: Dataset, k: int, n: int) -> tuple[list[Request], list[Request]]:
    return [b.patron_status(p, pin=False) for p in _patrons(d, k, n, 1)], []


def _patron_pin(b: Builder, d: Dataset, k: int, n: int) -> tuple[list[Request], list[Request]]:
    # Two at least, so consecutive requests are for different patrons and miss the cache.
    return [b.patron_status(p, pin=True) for p in _patrons(d, k, n, 2)], []


def _session(b: Builder, d: Dataset, k: int, n: int) -> tuple[list[Request], list[Request]]:
    sessions, warmup = _sessions(b, d, k, n)
    return [r for patron, lent in sessions for r in b.session(patron, lent)], warmup


def _mixed(b: Builder, d: Dataset, k: int, n: int) -> tuple[list[Request], list[Request]]:
    sessions, warmup = _sessions(b, d, k, n)
    patrons = _patrons(d, k, n, 1)
    ring: list[Request] = []
    for s, (patron, lent) in enumerate(sessions):
        visitor = patrons[(s + len(sessions)) % len(patrons)]
        ring += b.session(patron, lent)
        ring += [b.sc_status(), b.patron_status(visitor, pin=False), b.sc_status()]
    return ring, warmup


SCENARIOS: Final[dict[str, Scenario]] = {
    s.name: s
    for s in (
        Scenario("keepalive", "99 SC Status only", False, _keepalive),
        Scenario("patron-status", "23 Patron Status without PIN", True, _patron_status),
        Scenario("patron-pin", "23 Patron Status with PIN (argon2 each time)", True, _patron_pin),
        Scenario("session", "93, then 23+PIN, 63, 3x 11, 3x 09, 35 per patron", True, _session),
        Scenario("mixed", "sessions with 99 keep-alives and card checks between", True, _mixed),
    )
}


def plan_kiosk(
    scenario: Scenario,
    dataset: Dataset,
    kiosk: int,
    kiosks: int,
    *,
    credentials: Credentials | None,
    institution: str = "",
    now: datetime | None = None,
) -> KioskPlan:
    """The precomputed frames of kiosk ``kiosk`` (0-based) of ``kiosks``."""
    builder = Builder(institution, now)
    ring, warmup = scenario.build(builder, dataset, kiosk, kiosks)
    before = ([builder.login(credentials)] if credentials is not None else []) + warmup
    numbered = number_before(before)
    login = numbered[0] if credentials is not None else None
    return KioskPlan(kiosk, login, numbered[1:] if login else numbered, number(ring))
