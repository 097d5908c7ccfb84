"""A cache of answers that change only with the clock's second and a few inputs.

Kiosks send a 99 every few seconds each, forever, and its 98 depends only on the kiosk
account record, the configuration, database health and the current second (SIP2 dates have
whole seconds). Building and encoding it per request was a tenth of the daemon's time under
keep-alive load; with this cache a 99 costs a lookup, and the connection's exchange adds the
trailer that mirrors the request.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from datetime import datetime
from typing import Generic, TypeVar

T = TypeVar("T")


class PerSecondCache(Generic[T]):
    """Values for the current second only, keyed by objects compared by identity.

    ``get(key, when, config, build)`` returns the value built for ``key`` during this second,
    or calls ``build()``. The whole cache is dropped when ``when`` is not the object of the
    previous call (``ServerContext.sip_now`` returns one object per second) or ``config`` is
    a different object (a reload replaces it), so at most one second's entries are kept and a
    stale one is never returned. Key items are compared by identity and held by the entry:
    an account record re-read from the database, even if equal, is a new entry, and an id
    can never be reused while its entry lives.
    """

    def __init__(self) -> None:
        self._when: datetime | None = None
        self._config: object = None
        self._entries: dict[tuple[int, ...], tuple[tuple[Hashable, ...], T]] = {}

    def get(
        self, key: tuple[Hashable, ...], when: datetime, config: object, build: Callable[[], T]
    ) -> T:
        if when is not self._when or config is not self._config:
            self._when, self._config = when, config
            self._entries.clear()
        ids = tuple(map(id, key))
        entry = self._entries.get(ids)
        if entry is not None:  # the same ids of objects alive (the entry holds them): the same
            return entry[1]
        value = build()
        self._entries[ids] = (key, value)
        return value
