"""Assembling a ready-to-run daemon from configuration.

Everything that can fail for an operator's reason (database unreachable or not migrated,
no pepper, bad certificate) fails here, before a socket is opened, with one clear line.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from sip2d.auth.events import AuthEvent
from sip2d.auth.gate import PinGate, make_hash_limiter
from sip2d.auth.hashing import Pepper, PinHasher
from sip2d.config import Config, ListenerConfig
from sip2d.server.context import ServerContext
from sip2d.server.metrics import Metrics
from sip2d.storage.connect import open_engine
from sip2d.storage.migrate import check_schema_current
from sip2d.storage.runner import DatabaseRunner

DEMO_ADDRESS = "127.0.0.1:6001"
# The PIN page of the demo (issue #16), with mails written as files under the demo directory.
DEMO_WEB_ADDRESS = "127.0.0.1:8080"


def metrics_sink(metrics: Metrics) -> object:
    """Map the auth code's closed set of events onto the daemon's counters.

    Refused 93 logins are not counted here: the login handler counts each exactly once, under
    its reason (the gate sees only some of them).
    """

    def sink(event: AuthEvent) -> None:
        if event in (
            AuthEvent.PIN_WRONG,
            AuthEvent.PIN_NO_PIN,
            AuthEvent.PIN_UNKNOWN_PATRON,
            AuthEvent.PIN_LOCKED,
            AuthEvent.PIN_SOURCE_BLOCKED,
        ):
            metrics.pin_failures.labels(event.value).inc()
        elif event is AuthEvent.PATRON_LOCKED:
            metrics.lockouts.inc()
        elif event in (
            AuthEvent.SPRAY_SLOWED,
            AuthEvent.SPRAY_BLOCKED,
            AuthEvent.LOGIN_ADDRESS_BLOCKED,
        ):
            metrics.throttled.labels(event.value).inc()

    return sink


def build_context(config: Config, *, metrics: Metrics | None = None) -> ServerContext:
    """Open the database, check its schema, load the pepper and wire the daemon together."""
    hasher = PinHasher.from_config(config.auth)
    engine = open_engine(config.database)
    try:
        check_schema_current(engine)
    except BaseException:
        engine.dispose()
        raise
    db = DatabaseRunner(engine)
    metrics = metrics or Metrics()
    gate = PinGate(
        hasher,
        config.throttle,
        db,
        make_hash_limiter(config.auth),
        metrics=metrics_sink(metrics),  # type: ignore[arg-type]
    )
    return ServerContext(config=config, db=db, gate=gate, metrics=metrics)


def demo_config(config: Config, directory: Path, listen: list[str] | None = None) -> Config:
    """``sip2d serve --demo``: an embedded SQLite database and pepper under ``directory``.

    Created and seeded on first use; later runs reuse them, so loans made in one demo session
    are still there in the next.
    """
    from sip2d.storage.demo import seed_demo
    from sip2d.storage.migrate import upgrade

    directory.mkdir(parents=True, exist_ok=True)
    pepper_path = directory / "demo.pepper"
    if not pepper_path.exists():
        fd = os.open(pepper_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(Pepper.generate().to_text() + "\n")
    db_path = directory / "demo.db"
    fresh = not db_path.exists()
    listeners = [ListenerConfig(address=a) for a in (listen or [DEMO_ADDRESS])]
    config = dataclasses.replace(
        config,
        listeners=listeners,
        database=dataclasses.replace(config.database, url=f"sqlite:///{db_path}"),
        auth=dataclasses.replace(config.auth, pepper_file=str(pepper_path), pepper_env=""),
        web=dataclasses.replace(
            config.web,
            listen=DEMO_WEB_ADDRESS,
            base_url=f"http://{DEMO_WEB_ADDRESS}",
            allow_insecure_base_url=True,
            library_name=config.web.library_name
            if config.web.library_name != "sip2d Library"
            else "sip2d Demo Library",
        ),
        mail=dataclasses.replace(
            config.mail, transport="directory", directory=str((directory / "mail").resolve())
        ),
    )
    upgrade(config.database.url)
    if fresh:
        hasher = PinHasher.from_config(config.auth)
        engine = open_engine(config.database)
        try:
            seed_demo(engine, hasher)
        finally:
            engine.dispose()
    return config
