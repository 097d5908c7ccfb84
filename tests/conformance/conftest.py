"""A real sip2d daemon for the conformance suite to judge, and a profile that matches its data.

The daemon is the end-to-end harness of tests/server (``make_config``, ``seed``, ``start``):
real TCP on 127.0.0.1, real SQLite (or PostgreSQL) and cheap argon2 parameters. Before the
suite runs, the profile's patron (Bob) borrows two items so that the paging check has a list to
page through.
"""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path

import trio
from sqlalchemy import insert

from conformance.model import Report
from conformance.profile import Login, Patron, Profile, Secret
from conformance.runner import run_server_suite
from conformance.wire import Target
from sip2d.auth.hashing import PinHasher
from sip2d.config import Config
from sip2d.storage.connect import open_engine
from sip2d.storage.models import patrons
from tests.server.conftest import ALICE, BOB, ITEMS, KIOSK, Running, make_config, seed, start

ON_LOAN = ITEMS[3:5]
# The patron LK-02 (parallel guessing) may lock: not one the other checks use.
GUESSED = ("1077", "7391")
PROFILE = Profile(
    name="sip2d test daemon",
    institution_id="MAIN",
    timeout=2.0,
    login=Login(KIOSK[0], Secret(KIOSK[1]), "BRANCH1"),
    patron=Patron(BOB[0], Secret(BOB[1])),
    second_patron=Patron(ALICE[0], Secret(ALICE[1])),
    item=ITEMS[0],
    invalid_patron="9999999",
    invalid_item="8888888",
    lockout_patron=Patron(GUESSED[0], Secret(GUESSED[1])),
)
SECRETS = (KIOSK[1], BOB[1], ALICE[1], GUESSED[1])


def sip2d_config(tmp_path: Path, url: str, **server: object) -> Config:
    """The harness's configuration; ``throttle_*`` keys override the throttle section."""
    throttle = {
        k.removeprefix("throttle_"): v for k, v in server.items() if k.startswith("throttle_")
    }
    server = {k: v for k, v in server.items() if not k.startswith("throttle_")}
    config = make_config(tmp_path, url, **server)
    if throttle:
        config = dataclasses.replace(
            config,
            throttle=dataclasses.replace(config.throttle, **throttle),  # type: ignore[arg-type]
        )
    return config


def seed_guessed(config: Config) -> None:
    """Add the patron LK-02 locks to the harness's data."""
    engine = open_engine(config.database)
    try:
        with engine.begin() as conn:
            pin_hash = PinHasher.from_config(config.auth).hash(GUESSED[1])
            conn.execute(
                insert(patrons).values(
                    barcode=GUESSED[0],
                    name="Gus Guessed",
                    pin_hash=pin_hash,
                    expires_on=date(date.today().year + 2, 1, 1),
                )
            )
    finally:
        engine.dispose()


async def start_sip2d(nursery: trio.Nursery, config: Config) -> Running:
    await trio.to_thread.run_sync(seed, config)
    await trio.to_thread.run_sync(seed_guessed, config)
    running = await start(nursery, config)
    client = await running.logged_in()
    for item in ON_LOAN:
        reply = await client.checkout(BOB[0], item, BOB[1], institution="MAIN")
        assert getattr(reply.message, "ok", False), item
    await client.aclose()
    return running


async def run_suite(
    port: int,
    profile: Profile = PROFILE,
    *,
    allow_changes: bool = True,
    allow_lockout: bool = False,
    only: tuple[str, ...] = (),
) -> Report:
    return await run_server_suite(
        profile,
        Target("127.0.0.1", port),
        allow_changes=allow_changes,
        allow_lockout=allow_lockout,
        only=only,
    )


def failed(report: Report) -> set[str]:
    return {r.check.id for r in report.results if r.status.value == "fail"}


def explain(report: Report) -> str:
    """The failures with their details, for assertion messages."""
    return "\n".join(
        f"{r.check.id}: {r.detail}" for r in report.results if r.status.value == "fail"
    )
