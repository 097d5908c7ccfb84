"""File descriptors: as many as the system allows, and no more connections than they can hold.

Every kiosk connection is a socket, and so a file descriptor. The soft limit most systems
start a process with is 1,024, while the default ``max_connections`` is 20,000: the daemon ran
out at 1,024, ``accept`` failed, and connections beyond it hung unanswered. So at start the soft
limit is raised to the hard limit (which an unprivileged process may do), and if
``max_connections`` plus what the daemon needs besides still does not fit, ``max_connections``
is lowered to what fits, with one warning naming both numbers. Then the connection limit, which
answers by closing at once, is always reached before the descriptor limit, which hangs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import resource
import sys

from sip2d.config import Config

log = logging.getLogger("sip2d.server")

# Descriptors kept for everything that is not a kiosk: standard streams, the event loop's own
# (epoll, wake-up pipe), log files, the pepper and configuration files read on reload, the
# metrics endpoint and its clients, and headroom for a connection being accepted and refused.
RESERVED = 64
# Per pooled database connection: a PostgreSQL socket, or SQLite's database, WAL and shared
# memory files.
PER_DATABASE_CONNECTION = 3


def raise_open_file_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit; return the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        # An unlimited hard limit may still be refused for the soft one (Linux caps it at
        # fs.nr_open): then keep what we have.
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return sys.maxsize if soft == resource.RLIM_INFINITY else int(soft)


def descriptors_needed(config: Config) -> int:
    """Descriptors the daemon needs besides its kiosk connections."""
    pool = config.database.pool_size + 1  # +1: the on-loop SQLite reader or a health check
    listeners = len(config.listeners) + 1  # +1: the metrics endpoint
    return RESERVED + PER_DATABASE_CONNECTION * pool + listeners


def fit_connections(config: Config, open_files: int) -> Config:
    """``config`` with ``max_connections`` lowered to what ``open_files`` descriptors hold.

    Logs one warning when it lowers it; returns ``config`` itself when it fits.
    """
    wanted = config.server.max_connections
    room = max(open_files - descriptors_needed(config), 1)
    if wanted <= room:
        return config
    log.warning(
        "max_connections lowered to fit the open-file limit",
        extra={"max_connections": wanted, "open_file_limit": open_files, "lowered_to": room},
    )
    return dataclasses.replace(
        config, server=dataclasses.replace(config.server, max_connections=room)
    )
