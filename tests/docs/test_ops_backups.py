"""docs/ops/backups.md: the SQLite online backup it prints works on a live WAL database.

The Python snippet is taken from the page itself and run as written, while another connection
has committed rows that are still only in the WAL file (not checkpointed into the main file):
the backup must hold them, pass ``PRAGMA integrity_check`` and be a current sip2d database.
"""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

from sip2d.config import DatabaseConfig
from sip2d.storage.engine import make_engine
from sip2d.storage.migrate import check_schema_current, upgrade
from sip2d.storage.models import patrons
from tests.storage.factories import add_patron

PAGE = Path(__file__).resolve().parents[2] / "docs" / "ops" / "backups.md"


def python_snippet() -> str:
    match = re.search(
        r"python3 - [^\n]*<<'PY'\n(.*?)\nPY\n", PAGE.read_text(encoding="utf-8"), re.S
    )
    assert match, "backups.md no longer shows the Python backup snippet"
    return match.group(1)


def test_the_documented_online_backup_copies_a_live_wal_database(tmp_path: Path) -> None:
    live = tmp_path / "sip2d.db"
    url = f"sqlite:///{live}"
    upgrade(url)
    engine = make_engine(DatabaseConfig(), url=url)
    with engine.connect() as conn:  # keeps the WAL from being checkpointed away at close
        conn.exec_driver_sql("PRAGMA wal_autocheckpoint=0")
        for n in range(50):
            add_patron(engine, f"9{n:06d}", name=f"Patron {n}")
        assert (tmp_path / "sip2d.db-wal").stat().st_size > 0
        copy = tmp_path / "backup.db"
        result = subprocess.run(
            [sys.executable, "-", str(live), str(copy)],
            input=python_snippet(),
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stderr
    engine.dispose()
    with sqlite3.connect(copy) as check:
        assert check.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    restored = make_engine(DatabaseConfig(), url=f"sqlite:///{copy}")
    check_schema_current(restored)
    with restored.connect() as conn:
        assert conn.execute(select(func.count()).select_from(patrons)).scalar_one() == 50
    restored.dispose()
