"""A real daemon on a real database for end-to-end tests over TCP.

``running`` migrates the database named by ``database_url`` (SQLite file or PostgreSQL
schema), seeds a small known dataset, starts the daemon in the test's nursery on an ephemeral
port and stops it (gracefully) at the end of the test.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import trio
from sqlalchemy import insert

from sip2d.auth.hashing import Pepper, PinHasher
from sip2d.client import SipClient
from sip2d.config import Argon2Config, Config, ListenerConfig, load_config
from sip2d.server.build import build_context
from sip2d.server.daemon import Daemon
from sip2d.storage.connect import open_engine
from sip2d.storage.models import fees, holds, items, kiosk_accounts, patrons
from tests.templates import migrate

CHEAP_ARGON2 = Argon2Config(memory_kib=64, time_cost=1, parallelism=1)
KIOSK = ("kiosk1", "kiosk-pass")
ALICE = ("1001", "4826")  # patron barcode, PIN
BOB = ("1002", "5930")
BLOCKED = "1003"
EXPIRED = "1004"
FINED = "1005"
NOPIN = "1006"
ITEMS = ["2001", "2002", "2003", "2004", "2005"]
HELD_ITEM = "2009"  # on hold for BOB
FEE_ITEM = "2010"  # 1.50 to borrow


@dataclass
class Running:
    daemon: Daemon
    config: Config
    host: str
    port: int
    url: str

    async def client(self, **options: object) -> SipClient:
        return await SipClient.connect(self.host, self.port, **options)  # type: ignore[arg-type]

    async def logged_in(self, **options: object) -> SipClient:
        client = await self.client(**options)
        assert await client.login(*KIOSK)
        return client


def make_config(tmp_path: Path, url: str, **server: object) -> Config:
    pepper = tmp_path / "test.pepper"
    if not pepper.exists():
        pepper.write_text(Pepper.generate().to_text() + "\n", encoding="ascii")
        pepper.chmod(0o600)
    config = load_config(None, env={})
    return dataclasses.replace(
        config,
        listeners=[ListenerConfig(address="127.0.0.1:0")],
        database=dataclasses.replace(config.database, url=url, pool_size=4),
        auth=dataclasses.replace(config.auth, argon2=CHEAP_ARGON2, pepper_file=str(pepper)),
        server=dataclasses.replace(config.server, shutdown_grace=2.0, **server),  # type: ignore[arg-type]
    )


def seed(config: Config) -> None:
    migrate(config.database.url)
    hasher = PinHasher.from_config(config.auth)
    engine = open_engine(config.database)
    today = datetime.now(UTC).date()
    with engine.begin() as conn:
        conn.execute(
            insert(kiosk_accounts).values(
                login=KIOSK[0],
                password_hash=hasher.hash(KIOSK[1]),
                institution_id="MAIN",
                location_code="BRANCH1",
                can_block_patron=True,
                can_enable_patron=True,
                can_item_status=True,
            )
        )
        rows: list[dict[str, object]] = [
            dict(
                barcode=ALICE[0],
                name="Alice Archer",
                pin_hash=hasher.hash(ALICE[1]),
                email="alice@example.org",
            ),
            dict(barcode=BOB[0], name="Bob Baker", pin_hash=hasher.hash(BOB[1])),
            dict(barcode=BLOCKED, name="Carol Blocked", blocked=True, block_reason="lost card"),
            dict(barcode=EXPIRED, name="Dan Expired", expires_on=today - timedelta(days=1)),
            dict(barcode=FINED, name="Eve Fined", fine_balance_cents=2500),
            dict(barcode=NOPIN, name="Frank NoPin"),
        ]
        for row in rows:
            row.setdefault("expires_on", date(today.year + 2, 1, 1))
            conn.execute(insert(patrons).values(**row))
        for barcode in [*ITEMS, HELD_ITEM]:
            conn.execute(
                insert(items).values(
                    barcode=barcode,
                    title=f"Title {barcode}",
                    media_type="001",
                    permanent_location="BRANCH1",
                    current_location="BRANCH1",
                )
            )
        conn.execute(
            insert(items).values(
                barcode=FEE_ITEM,
                title="Rental DVD",
                media_type="005",
                permanent_location="BRANCH1",
                checkout_fee_cents=150,
            )
        )
        fined_id = conn.execute(patrons.select().where(patrons.c.barcode == FINED)).one().id
        conn.execute(
            insert(fees).values(
                patron_id=fined_id,
                fee_type="04",
                amount_cents=2500,
                currency="USD",
                description="Overdue",
                created_at=datetime(2024, 1, 1),
            )
        )
        bob_id = conn.execute(patrons.select().where(patrons.c.barcode == BOB[0])).one().id
        held_id = conn.execute(items.select().where(items.c.barcode == HELD_ITEM)).one().id
        conn.execute(
            insert(holds).values(
                patron_id=bob_id,
                item_id=held_id,
                title=f"Title {HELD_ITEM}",
                pickup_location="BRANCH1",
                created_at=datetime(2024, 1, 1),
                status="ready",
            )
        )
    engine.dispose()


async def start(nursery: trio.Nursery, config: Config) -> Running:
    # Off the event loop: opening the engine connects synchronously, and a test may be serving
    # the database's network path (a proxy) from this same loop.
    ctx = await trio.to_thread.run_sync(build_context, config)
    daemon: Daemon = await nursery.start(Daemon(ctx, handle_signals=False).run)
    host, port = daemon.addresses[0]
    return Running(daemon, config, host, port, config.database.url)


@pytest.fixture
async def running(
    nursery: trio.Nursery, tmp_path: Path, database_url: str
) -> AsyncIterator[Running]:
    config = make_config(tmp_path, database_url)
    seed(config)
    server = await start(nursery, config)
    yield server
    server.daemon.stop()


@pytest.fixture
async def one_thread(nursery: trio.Nursery, tmp_path: Path, postgres_url: str) -> Running:
    """A daemon on PostgreSQL with one database thread: the connection doing the work is known."""
    config = make_config(tmp_path, postgres_url, health_check_interval=3600.0)
    # Two pooled connections: one database thread, and one left for callers outside it.
    config = dataclasses.replace(config, database=dataclasses.replace(config.database, pool_size=2))
    seed(config)
    return await start(nursery, config)
