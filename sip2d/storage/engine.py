"""Creating engines with the settings each backend needs.

SQLite is the embedded default: WAL so readers never wait for the writer, foreign keys on
(SQLite leaves them off per connection), a busy timeout so a second writer waits instead of
failing at once, and ``synchronous`` from config (FULL by default: an acknowledged checkout
survives power loss). PostgreSQL goes through psycopg 3 with a pool sized from config.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url

from sip2d.config import DatabaseConfig
from sip2d.storage.prepared import Prepared

# SQLite transaction starts, also used by the runner's on-loop reads.
BEGIN = Prepared(text("BEGIN"))
BEGIN_IMMEDIATE = Prepared(text("BEGIN IMMEDIATE"))
# Executions of one statement on one connection before psycopg prepares it server-side.
PREPARE_THRESHOLD = 2


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def make_engine(config: DatabaseConfig, *, url: str | None = None) -> Engine:
    """An engine for ``url`` (default: ``config.url``) with per-backend connection setup."""
    url = url or config.url
    if is_sqlite(url):
        engine = create_engine(
            url,
            pool_size=max(config.pool_size, 1),
            max_overflow=0,
            pool_timeout=30,
            connect_args={
                "check_same_thread": False,
                "timeout": config.sqlite_busy_timeout_ms / 1000,
            },
        )
        _install_sqlite_pragmas(engine, config)
        return engine
    connect_args: dict[str, Any] = {"connect_timeout": 5}
    if make_url(url).get_driver_name() == "psycopg":
        connect_args["prepare_threshold"] = PREPARE_THRESHOLD
    return create_engine(
        url,
        pool_size=max(config.pool_size, 1),
        max_overflow=0,
        pool_pre_ping=True,
        pool_timeout=30,
        # A database that stops answering must not hold a kiosk for minutes: fail the connect
        # and let the health loop bring the daemon back when it returns.
        connect_args=connect_args,
    )


def _install_sqlite_pragmas(engine: Engine, config: DatabaseConfig) -> None:
    synchronous = config.sqlite_synchronous
    busy_ms = int(config.sqlite_busy_timeout_ms)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # pysqlite's own transaction handling issues BEGIN lazily (after the first write
        # statement), which lets two writers both read then deadlock on upgrade. Take control
        # and begin explicitly in the "begin" hook below.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # IMMEDIATE takes the write lock at BEGIN when the transaction will write; plain BEGIN
        # (deferred) for reads. Callers say which through execution option "sqlite_write".
        # Prepared (straight on the driver): exec_driver_sql cost ~20 µs of a ~60 µs read.
        if conn.connection.dbapi_connection.in_transaction:
            return  # the runner's on-loop read began one on the driver: SQLAlchemy joins it
        if conn.get_execution_options().get("sqlite_write"):
            BEGIN_IMMEDIATE.run(conn)
        else:
            BEGIN.run(conn)
