"""Driving PIN-guessing attacks at running daemons and judging each guess from outside.

The attack tests (``test_pin_gate_attacks``) state what the PIN gate must guarantee, not how it
is built, so everything here looks at the daemon the way an attacker at a kiosk does: the
screen message and CQ of each 24, plus the patron row in the database. Three things the tests
need over and over live here:

* many logged-in kiosk connections, each from a chosen kiosk account and client address, all
  opened *before* the attack so that the burst itself is nothing but 23 requests;
* a burst whose requests all leave at the same instant (every sender parks on one event
  first), which is what finds a gate that checks a limit and counts against it in two steps;
* a verdict per reply saying what the gate did with that guess: verified it, or refused it
  without verifying (card locked, source blocked).
"""

from __future__ import annotations

import dataclasses
import enum
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Final

import trio
from sqlalchemy import Engine, insert, select, update

from sip2d.auth.hashing import PinHasher
from sip2d.client import SipClient
from sip2d.config import Config
from sip2d.protocol import PatronStatusResponse, Received
from sip2d.storage.connect import open_engine
from sip2d.storage.models import kiosk_accounts, patrons
from tests.server.conftest import KIOSK, Running, start

# The screen messages (AF) that tell the gate's decisions apart; see the issue #14 note.
INVALID_PREFIX: Final = "Invalid PIN"
LOCKED_PREFIX: Final = "PIN locked, try again in"
SOURCE_BLOCKED_TEXT: Final = "Too many failed PIN attempts here, please ask staff"


class Verdict(enum.Enum):
    """What the gate did with one guess, as far as the kiosk can tell."""

    VERIFIED_WRONG = "verified wrong"
    ACCEPTED = "verified right"
    LOCKED = "refused, card locked"
    SOURCE_BLOCKED = "refused, source blocked"
    OTHER = "other"


@dataclasses.dataclass(frozen=True, slots=True)
class Reply:
    verdict: Verdict
    # Kept for failure reports: an OTHER verdict is only useful with the text that caused it.
    text: str


def judge(received: Received) -> Reply:
    """Classify one 24 answer. Anything unexpected is OTHER so a test can refuse it loudly."""
    reply = received.message
    if not isinstance(reply, PatronStatusResponse):
        return Reply(Verdict.OTHER, f"not a 24: {type(reply).__name__}")
    text = reply.screen_message[0] if reply.screen_message else ""
    if reply.valid_patron_password:
        return Reply(Verdict.ACCEPTED, text)
    if text.startswith(INVALID_PREFIX):
        return Reply(Verdict.VERIFIED_WRONG, text)
    if text.startswith(LOCKED_PREFIX):
        return Reply(Verdict.LOCKED, text)
    if text == SOURCE_BLOCKED_TEXT:
        return Reply(Verdict.SOURCE_BLOCKED, text)
    return Reply(Verdict.OTHER, text)


def tally(replies: Sequence[Reply]) -> Counter[Verdict]:
    return Counter(reply.verdict for reply in replies)


def describe(counts: Counter[Verdict], replies: Sequence[Reply] = ()) -> str:
    """A one-line account of a burst for assertion messages (and the issue's 'before' note)."""
    parts = [f"{verdict.value}: {counts[verdict]}" for verdict in Verdict if counts[verdict]]
    odd = sorted({reply.text for reply in replies if reply.verdict is Verdict.OTHER})
    if odd:
        parts.append(f"unexpected texts: {odd}")
    return "; ".join(parts) or "no replies"


@dataclasses.dataclass(frozen=True, slots=True)
class Source:
    """Where a guess comes from: a kiosk account (login, password) and a client address."""

    account: tuple[str, str] = KIOSK
    # None lets the OS choose (127.0.0.1 towards a daemon listening there).
    address: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Guess:
    """One 23 Patron Status with a PIN, sent from ``source`` to daemon number ``daemon``."""

    barcode: str
    pin: str
    source: Source = Source()
    daemon: int = 0


def loopback(index: int) -> str:
    """The ``index``-th extra loopback address: 127.0.0.2, 127.0.0.3, ... (all of 127/8 is lo)."""
    return f"127.0.0.{2 + index}"


@asynccontextmanager
async def serving(
    nursery: trio.Nursery, config: Config, count: int = 1
) -> AsyncIterator[list[Running]]:
    """``count`` daemons on the one database of ``config``, stopped gracefully afterwards."""
    daemons: list[Running] = []
    try:
        for _ in range(count):
            daemons.append(await start(nursery, config))
        yield daemons
    finally:
        for running in daemons:
            running.daemon.stop()


@asynccontextmanager
async def kiosks(
    daemons: Sequence[Running], guesses: Sequence[Guess]
) -> AsyncIterator[list[SipClient]]:
    """One logged-in connection per guess, in order, all closed on exit.

    Opened concurrently: logging in costs an argon2 verification each, and a few hundred in a
    row would dominate the test's time. Closed before the daemons stop, so the graceful
    shutdown has no connection to wait for.
    """
    clients: list[SipClient | None] = [None] * len(guesses)

    async def open_one(index: int, guess: Guess) -> None:
        target = daemons[guess.daemon]
        client = await target.client(local_address=guess.source.address)
        clients[index] = client
        assert await client.login(*guess.source.account), f"login failed for {guess.source}"

    async with AsyncExitStack() as stack:
        try:
            async with trio.open_nursery() as opening:
                for index, guess in enumerate(guesses):
                    opening.start_soon(open_one, index, guess)
        finally:
            for client in clients:
                if client is not None:
                    stack.push_async_callback(client.aclose)
        yield [client for client in clients if client is not None]


async def fire(
    clients: Sequence[SipClient],
    guesses: Sequence[Guess],
    *,
    beside: Callable[[], Awaitable[None]] | None = None,
) -> list[Reply]:
    """Send every guess on its own connection at the same instant; replies in guess order.

    Each sender parks on one event before sending, and the event is set only when all are
    parked, so the requests reach the daemon together rather than staggered by task start-up.
    ``beside`` starts at that same instant and runs alongside (e.g. a later right PIN).
    """
    assert len(clients) == len(guesses)
    if not guesses:
        return []
    replies: list[Reply | None] = [None] * len(guesses)
    go = trio.Event()
    all_parked = trio.Event()
    parked = 0

    async def send(index: int, client: SipClient, guess: Guess) -> None:
        nonlocal parked
        parked += 1
        if parked == len(guesses):
            all_parked.set()
        await go.wait()
        replies[index] = judge(await client.patron_status(guess.barcode, guess.pin))

    async def after_go() -> None:
        assert beside is not None
        await go.wait()
        await beside()

    async with trio.open_nursery() as nursery:
        for index, (client, guess) in enumerate(zip(clients, guesses, strict=True)):
            nursery.start_soon(send, index, client, guess)
        if beside is not None:
            nursery.start_soon(after_go)
        await all_parked.wait()
        go.set()
    return [reply for reply in replies if reply is not None]


def utcnow() -> datetime:
    """Naive UTC, the form every timestamp in the schema takes."""
    return datetime.now(UTC).replace(tzinfo=None)


@dataclasses.dataclass(frozen=True, slots=True)
class PinState:
    failures: int
    locked_until: datetime | None

    def locked(self, now: datetime) -> bool:
        return self.locked_until is not None and self.locked_until > now


class Store:
    """The test's own view of the daemon's database: extra rows before, patron state after."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.engine: Engine = open_engine(config.database)

    def dispose(self) -> None:
        self.engine.dispose()

    def add_kiosk_accounts(self, accounts: Sequence[tuple[str, str]]) -> None:
        hasher = PinHasher.from_config(self.config.auth)
        rows = [
            dict(
                login=login,
                password_hash=hasher.hash(password),
                institution_id="MAIN",
                location_code="BRANCH1",
            )
            for login, password in accounts
        ]
        with self.engine.begin() as conn:
            conn.execute(insert(kiosk_accounts), rows)

    def add_patrons(self, barcodes: Sequence[str], pin: str) -> None:
        """Patrons who all have ``pin``; hashed once, since the record is per PIN, not per card."""
        record = PinHasher.from_config(self.config.auth).hash(pin)
        expires = date.today() + timedelta(days=730)
        rows = [
            dict(barcode=barcode, name=f"Patron {barcode}", pin_hash=record, expires_on=expires)
            for barcode in barcodes
        ]
        with self.engine.begin() as conn:
            conn.execute(insert(patrons), rows)

    def pin_state(self, barcode: str) -> PinState:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(patrons.c.pin_failures, patrons.c.pin_locked_until).where(
                    patrons.c.barcode == barcode
                )
            ).one()
        return PinState(int(row.pin_failures or 0), row.pin_locked_until)

    def end_lock(self, barcode: str) -> None:
        """Make the patron's lock a minute past its end, keeping the failure count as it is."""
        with self.engine.begin() as conn:
            conn.execute(
                update(patrons)
                .where(patrons.c.barcode == barcode)
                .values(pin_locked_until=utcnow() - timedelta(minutes=1))
            )

    async def wait_for_lock(self, barcode: str, max_failures: int, timeout: float = 10.0) -> None:
        """Return once the database shows the patron locked or at the failure limit.

        A gate that reserves attempts marks one of these no later than the reservation of the
        last allowed guess, so a guess sent after this is one the gate must refuse; sent
        earlier, it could legitimately be among the allowed ones.
        """
        with trio.fail_after(timeout):
            while True:
                state = await trio.to_thread.run_sync(self.pin_state, barcode)
                if state.failures >= max_failures or state.locked(utcnow()):
                    return
                await trio.sleep(0.002)
