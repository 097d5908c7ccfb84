"""Issue #17 as an ops person meets it: the `sip2d` command in a real process, real databases.

Every user mistake ends in one line (``Error: ...``) and exit status 1, never a traceback; no
command but ``db upgrade`` creates a database; ``sip2d demo`` never touches data it did not
create. Each test runs ``python -m sip2d`` with a clean environment (no SIP2D_* variables).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import trustme
from sqlalchemy import select, update

from sip2d.auth.hashing import Pepper, PinHasher
from sip2d.config import Argon2Config, DatabaseConfig
from sip2d.storage.engine import make_engine
from sip2d.storage.models import demo_records, items, kiosk_accounts, patrons
from tests.cli.conftest import CHEAP, write_config
from tests.storage.factories import add_account, add_item, add_patron


def sip2d(
    *args: str, env: dict[str, str] | None = None, python: tuple[str, ...] = ("-m", "sip2d")
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SIP2D_")}
    return subprocess.run(
        [sys.executable, *python, *args],
        capture_output=True,
        text=True,
        env={**clean, **(env or {})},
        timeout=120,
        check=False,
    )


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    return lines[0]


def configured(tmp_path: Path, url: str, extra: str = "") -> Path:
    config = write_config(tmp_path, url, Pepper.generate())
    if extra:
        config.write_text(config.read_text(encoding="utf-8") + extra, encoding="utf-8")
    return config


def upgraded(tmp_path: Path, url: str, extra: str = "") -> Path:
    config = configured(tmp_path, url, extra)
    result = sip2d("--config", str(config), "db", "upgrade")
    assert result.returncode == 0, result.stderr
    return config


# --- 1-2: the demo and data it did not create -----------------------------------------------


@pytest.mark.parametrize("args", [("demo",), ("demo", "--reset")])
def test_demo_refuses_a_database_with_real_data(
    tmp_path: Path, database_url: str, args: tuple[str, ...]
) -> None:
    config = upgraded(tmp_path, database_url)
    engine = make_engine(DatabaseConfig(), url=database_url)
    mine = add_patron(engine, "2000001", name="Real Patron")
    book = add_item(engine, "3000001", title="Real Book")
    line = one_line_error(sip2d("--config", str(config), *args))
    assert "did not create (1 patrons, 1 items)" in line
    with engine.connect() as conn:
        assert conn.execute(select(patrons.c.id, patrons.c.name)).all() == [(mine, "Real Patron")]
        assert conn.execute(select(items.c.id, items.c.title)).all() == [(book, "Real Book")]
        assert conn.execute(select(kiosk_accounts.c.login)).all() == []
    engine.dispose()


def test_demo_data_is_marked_and_the_printed_login_exists(tmp_path: Path, sqlite_url: str) -> None:
    config = upgraded(tmp_path, sqlite_url)
    first = sip2d("--config", str(config), "demo")
    assert first.returncode == 0, first.stderr
    assert "login 'kiosk', password 'sip2demo'" in first.stdout
    engine = make_engine(DatabaseConfig(), url=sqlite_url)
    pepper = Pepper.from_file(tmp_path / "pepper")
    with engine.connect() as conn:
        record = conn.execute(
            select(kiosk_accounts.c.password_hash).where(kiosk_accounts.c.login == "kiosk")
        ).scalar_one()
        marked = conn.execute(select(demo_records.c.table_name)).scalars().all()
    assert PinHasher(CHEAP, pepper).verify(record, "sip2demo").ok
    assert marked.count("patrons") == 7 and marked.count("kiosk_accounts") == 1
    # Someone renames the demo kiosk: the demo no longer prints a login that does not exist.
    with engine.begin() as conn:
        conn.execute(update(kiosk_accounts).values(login="front-desk"))
    line = one_line_error(sip2d("--config", str(config), "demo"))
    assert "kiosk_accounts kiosk" in line and "--reset" in line
    reset = sip2d("--config", str(config), "demo", "--reset")
    assert reset.returncode == 0, reset.stderr
    with engine.connect() as conn:
        assert conn.execute(select(kiosk_accounts.c.login)).scalars().all() == ["kiosk"]
    engine.dispose()


# --- 4: only `db upgrade` creates a SQLite database -----------------------------------------


def test_a_wrong_sqlite_path_is_reported_not_created(tmp_path: Path) -> None:
    config = configured(tmp_path, "sqlite:///typo.db", "[[listener]]\naddress = '127.0.0.1:0'\n")
    typo = tmp_path / "typo.db"
    for args in (("patron", "show", "2000001"), ("db", "current"), ("serve",), ("demo",)):
        line = one_line_error(sip2d("--config", str(config), *args))
        assert f"database file {typo} does not exist" in line, args
        assert not typo.exists(), args
    assert sip2d("--config", str(config), "db", "upgrade").returncode == 0
    assert typo.exists()


# --- 5-6: bad values refused at load, one line per problem ------------------------------------


def test_bad_metrics_address_and_a_taken_port_are_one_line(tmp_path: Path, sqlite_url: str) -> None:
    bad = configured(tmp_path, sqlite_url, "[metrics]\nlisten = 'nope'\n")
    assert "metrics.listen: expected HOST:PORT" in one_line_error(
        sip2d("--config", str(bad), "serve")
    )
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        (tmp_path / "busy").mkdir()
        config = upgraded(
            tmp_path / "busy",
            f"sqlite:///{tmp_path / 'busy' / 'db.sqlite'}",
            # max_connections within any descriptor limit: no "lowered" warning beside the error.
            f"[server]\nmax_connections = 100\n"
            f"[metrics]\nlisten = '127.0.0.1:{port}'\n[[listener]]\naddress = '127.0.0.1:0'\n",
        )
        line = one_line_error(sip2d("--config", str(config), "serve"))
    assert f"metrics.listen: cannot listen on 127.0.0.1:{port}" in line


def test_every_bad_value_is_listed_with_its_key(tmp_path: Path, sqlite_url: str) -> None:
    config = configured(
        tmp_path,
        sqlite_url,
        "[server]\nmax_connections = -5\nshutdown_grace = -1\ncurrency = 'DOLLARS'\n",
    )
    result = sip2d("--config", str(config), "serve")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert lines[0] == f"Error: {config}: 3 problems:"
    assert [line.split(":")[0].strip() for line in lines[1:]] == [
        "server.currency",
        "server.max_connections",
        "server.shutdown_grace",
    ]


# --- 7: client --tls says why ---------------------------------------------------------------


def serve_once(context: ssl.SSLContext | None) -> int:
    """A one-connection TCP server: plain (closes at once) or TLS with the given context."""
    server = socket.create_server(("127.0.0.1", 0))

    def run() -> None:
        with server:
            conn, _ = server.accept()
            with conn:
                if context is not None:
                    with contextlib.suppress(ssl.SSLError, OSError):
                        context.wrap_socket(conn, server_side=True).close()

    threading.Thread(target=run, daemon=True).start()
    return int(server.getsockname()[1])


def test_client_tls_failures_name_the_reason(tmp_path: Path) -> None:
    port = serve_once(None)
    line = one_line_error(sip2d("client", f"127.0.0.1:{port}", "sc-status", "--tls"))
    reason = line.removeprefix(f"Error: 127.0.0.1:{port}:").strip()
    assert reason, line
    assert "TLS" in reason

    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    port = serve_once(context)
    line = one_line_error(sip2d("client", f"127.0.0.1:{port}", "sc-status", "--tls"))
    assert "TLS certificate not accepted: " in line
    assert "certificate" in line.split("not accepted: ")[1]


# --- 8: database URLs -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "needle"),
    [
        ("postgres://root@127.0.0.1/test", "write postgresql+psycopg://"),
        ("mysql://root@127.0.0.1/test", "sip2d supports sqlite:///PATH and postgresql+psycopg"),
    ],
)
def test_database_url_mistakes_get_a_hint(tmp_path: Path, url: str, needle: str) -> None:
    config = configured(tmp_path, url)
    line = one_line_error(sip2d("--config", str(config), "patron", "list"))
    assert "database.url" in line and needle in line


def test_a_missing_postgres_driver_names_the_extra(tmp_path: Path) -> None:
    config = configured(tmp_path, "postgresql+psycopg://root@127.0.0.1:1/test")
    no_driver = ("-c", "import sys; sys.modules['psycopg'] = None; from sip2d.cli import main; "
                 "main(prog_name='sip2d')")  # fmt: skip
    line = one_line_error(sip2d("--config", str(config), "patron", "list", python=no_driver))
    assert "psycopg is not installed" in line and "pip install 'sip2d[postgres]'" in line


# --- 9: SIGHUP names what needs a restart ---------------------------------------------------


def test_sighup_warning_names_the_keys_needing_a_restart(tmp_path: Path, sqlite_url: str) -> None:
    extra = "[[listener]]\naddress = '127.0.0.1:0'\n[logging]\nformat = 'json'\n"
    config = upgraded(tmp_path, sqlite_url, extra)
    process = subprocess.Popen(
        [sys.executable, "-m", "sip2d", "--config", str(config), "serve"],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stderr is not None
    try:
        lines = iter(process.stderr.readline, "")
        assert any('"event": "listening"' in line for line in lines)
        text = config.read_text(encoding="utf-8")
        text = text.replace("pool_size = 2", "pool_size = 3").replace("max_length = 8", "")
        config.write_text(text + "[server]\nidle_timeout = 99\n", encoding="utf-8")
        process.send_signal(signal.SIGHUP)
        for line in lines:
            if "reload:" in line:
                assert "database.pool_size" in line
                assert "server." not in line and "pin_policy" not in line
                break
        else:
            pytest.fail("no reload warning")
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        process.stderr.close()


# --- 11: auth status counts records ---------------------------------------------------------


def test_auth_status_counts_records_per_key_and_parameters(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    old_file = tmp_path / "old.pepper"
    old = Pepper.generate()
    old_file.write_text(old.to_text(), encoding="ascii")
    old_file.chmod(0o600)
    config = upgraded(tmp_path, url, "")
    config.write_text(
        config.read_text(encoding="utf-8").replace(
            "[auth]\n", f"[auth]\nold_pepper_files = [{str(old_file)!r}]\n"
        ),
        encoding="utf-8",
    )
    current = Pepper.from_file(tmp_path / "pepper")
    stronger = Argon2Config(memory_kib=128, time_cost=1, parallelism=1)
    engine = make_engine(DatabaseConfig(), url=url)
    for barcode, hasher in (
        ("1", PinHasher(CHEAP, current)),
        ("2", PinHasher(CHEAP, current)),
        ("3", PinHasher(CHEAP, old)),
        ("4", PinHasher(stronger, current)),
        ("5", PinHasher(CHEAP, Pepper.generate())),
    ):
        add_patron(engine, barcode, pin_hash=hasher.hash("4826"))
    add_patron(engine, "6")
    add_account(engine, "kiosk", password_hash=PinHasher(CHEAP, current).hash("kiosk-pass"))
    engine.dispose()
    result = sip2d("--config", str(config), "auth", "status")
    assert result.returncode == 0, result.stderr
    rows = [" ".join(line.split()) for line in result.stdout.splitlines()]
    cheap = "argon2id m=64 t=1 p=1"
    assert f"2 patron PINs key {current.key_id} {cheap} current" in rows
    assert f"1 kiosk passwords key {current.key_id} {cheap} current" in rows
    assert f"1 patron PINs key {old.key_id} {cheap} old pepper: re-hashed at next use" in rows
    assert any(
        r.startswith(f"1 patron PINs key {current.key_id} argon2id m=128 t=1 p=1 re-hashed")
        for r in rows
    )
    assert any(r.startswith("1 patron PINs key") and "UNKNOWN pepper" in r for r in rows)
    assert "1 patron PINs key - none no PIN set" in rows
