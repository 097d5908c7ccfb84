"""Alembic environment for sip2d, configured entirely by :mod:`sip2d.storage.migrate`.

There is no ``alembic.ini`` and no ``fileConfig`` call: the connection (or, for ``--sql``, the
URL) arrives in ``config.attributes``, and the application's logging is left alone.
SQLite gets batch mode so later revisions can alter tables (SQLite has little ALTER TABLE).
"""

from __future__ import annotations

from alembic import context

from sip2d.storage.models import Base

config = context.config
target_metadata = Base.metadata


def run_offline() -> None:
    url = config.attributes["url"]
    context.configure(
        url=url,
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=url.startswith("sqlite"),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes["connection"]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
