"""The reference ACS for kiosk mode: sip2d itself, on a throwaway SQLite database.

Why sip2d: the kiosk under test needs a server that answers every message correctly, in every
refusal form, with error detection mirrored per message, so that whatever the kiosk does wrong
is the kiosk's doing. The daemon is the one ``sip2d serve`` runs, unmodified, started in-process
on 127.0.0.1 and an ephemeral port; the suite observes the kiosk through a small proxy in front
of it (:mod:`.observer`) instead of hooking into the daemon.

The database lives in a temporary directory and holds only what the profile names: the kiosk
account (with the profile's encoding, error-detection mode and terminator), the patron and the
second patron with their PINs, and the item. Argon2 runs with cheap parameters because these
PINs are test values in a database deleted at the end of the run.
"""

from __future__ import annotations

import dataclasses
import secrets
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import insert

from conformance.profile import Profile
from sip2d.auth.hashing import Pepper, PinHasher
from sip2d.config import Argon2Config, Config, ListenerConfig, load_config
from sip2d.storage.connect import open_engine
from sip2d.storage.migrate import upgrade
from sip2d.storage.models import PERMISSION_COLUMNS, items, kiosk_accounts, patrons

CHEAP_ARGON2 = Argon2Config(memory_kib=64, time_cost=1, parallelism=1)
# The account every connection uses when the profile's kiosk does not send 93.
NO_LOGIN_ACCOUNT = "conformance-kiosk"
ERROR_DETECTION = {"auto": "auto", "always": "required", "never": "off"}
# Every permission, off-line transactions included: whatever a kiosk may legitimately send,
# including a replay of what it did while off line, the reference ACS must answer as the
# real one would for a kiosk allowed to send it.
KIOSK_PERMISSIONS = dict.fromkeys(PERMISSION_COLUMNS, True)


def reference_config(profile: Profile, directory: Path) -> Config:
    """A daemon configuration whose state lives entirely under ``directory``."""
    pepper = directory / "reference.pepper"
    pepper.write_text(Pepper.generate().to_text() + "\n", encoding="ascii")
    pepper.chmod(0o600)
    config = load_config(None, env={})
    listener = ListenerConfig(
        address="127.0.0.1:0",
        login_account="" if profile.login is not None else NO_LOGIN_ACCOUNT,
    )
    return dataclasses.replace(
        config,
        listeners=[listener],
        database=dataclasses.replace(
            config.database, url=f"sqlite:///{directory / 'reference.db'}", pool_size=2
        ),
        auth=dataclasses.replace(config.auth, argon2=CHEAP_ARGON2, pepper_file=str(pepper)),
        server=dataclasses.replace(
            config.server,
            institution_id=profile.institution_id or config.server.institution_id,
            shutdown_grace=1.0,
        ),
    )


def seed_reference(config: Config, profile: Profile) -> None:
    """Create the schema and the profile's account, patrons and item."""
    upgrade(config.database.url)
    hasher = PinHasher.from_config(config.auth)
    login = profile.login
    user = login.user if login is not None else NO_LOGIN_ACCOUNT
    password = login.password.reveal() if login is not None else secrets.token_urlsafe(16)
    expires = date(datetime.now(UTC).year + 2, 1, 1)
    engine = open_engine(config.database)
    try:
        with engine.begin() as conn:
            conn.execute(
                insert(kiosk_accounts).values(
                    login=user,
                    password_hash=hasher.hash(password),
                    institution_id=profile.institution_id or config.server.institution_id,
                    location_code=login.location if login is not None else "",
                    encoding=profile.encoding,
                    error_detection=ERROR_DETECTION[profile.error_detection],
                    terminator=profile.terminator,
                    **KIOSK_PERMISSIONS,
                )
            )
            for number, patron in enumerate((profile.patron, profile.second_patron), start=1):
                if patron is None:
                    continue
                conn.execute(
                    insert(patrons).values(
                        barcode=patron.barcode,
                        name=f"Conformance Patron {number}",
                        pin_hash=hasher.hash(patron.pin.reveal()) if patron.pin else None,
                        expires_on=expires,
                    )
                )
            if profile.item is not None:
                conn.execute(
                    insert(items).values(
                        barcode=profile.item,
                        title="Conformance Test Item",
                        media_type="001",
                        permanent_location="MAIN",
                        current_location="MAIN",
                    )
                )
    finally:
        engine.dispose()
