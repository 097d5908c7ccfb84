"""The benchmark library: barcodes and PINs that the seed writes and the generator derives.

``sip2d bench seed`` and ``sip2d bench`` run on different machines and share no state, so
both compute the dataset from two numbers (patrons, items) and nothing else: patron ``i``
(0-based) has barcode ``patron_barcode(i)`` and PIN ``patron_pin(i)``; item ``j`` has
barcode ``item_barcode(j)``. The barcodes are ten digits with a leading ``2`` (patrons) or
``3`` (items), the shape of real library cards and item labels, and sort in index order.

The PINs are public by design (anyone can read them here) and drawn from a fixed table of
:data:`BENCH_PINS`, four-digit values that the default PIN policy accepts. A fixed, small set
of distinct PINs lets the seed hash each one once instead of a million times (see
:mod:`sip2d.bench.seed`). This data exists to be loaded into a throw-away database; never seed
a production one.

Which patrons and items a kiosk uses is decided here too, so that kiosks never compete for an
item: kiosk ``k`` of ``n`` owns the patrons and items whose index is ``k`` modulo ``n``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Final

PATRON_PREFIX: Final = "2"
ITEM_PREFIX: Final = "3"
BARCODE_DIGITS: Final = 9
MAX_RECORDS: Final = 10**BARCODE_DIGITS - 1
# Accepted by the default policy: no repeated digit, no repeated pair, not on the denylist.
BENCH_PINS: Final = (
    "4826",
    "5930",
    "7142",
    "3619",
    "8053",
    "2971",
    "6384",
    "9517",
    "1068",
    "4735",
    "5291",
    "8604",
    "3157",
    "7490",
    "2846",
    "6913",
)
DEFAULT_KIOSK_LOGIN: Final = "bench"
LOCATION: Final = "BENCH"
DEFAULT_PATRONS: Final = 1000
DEFAULT_ITEMS: Final = 2000


def patron_barcode(index: int) -> str:
    return f"{PATRON_PREFIX}{index + 1:0{BARCODE_DIGITS}d}"


def item_barcode(index: int) -> str:
    return f"{ITEM_PREFIX}{index + 1:0{BARCODE_DIGITS}d}"


def patron_pin(index: int) -> str:
    return BENCH_PINS[index % len(BENCH_PINS)]


@dataclass(frozen=True)
class Dataset:
    """The size of a seeded benchmark library."""

    patrons: int = DEFAULT_PATRONS
    items: int = DEFAULT_ITEMS

    def __post_init__(self) -> None:
        if not 1 <= self.patrons <= MAX_RECORDS or not 0 <= self.items <= MAX_RECORDS:
            raise ValueError(f"patrons must be 1..{MAX_RECORDS} and items 0..{MAX_RECORDS}")

    def patrons_of(self, kiosk: int, kiosks: int, count: int) -> list[int]:
        """Up to ``count`` patron indexes owned by ``kiosk``, in a fixed pseudo-random order.

        Random rather than sequential so that on a large library the kiosks touch rows all
        over the table, as real patrons do, instead of one warm corner of the index.
        """
        owned = range(kiosk, self.patrons, kiosks)
        if len(owned) <= count:
            return list(owned)
        return random.Random(f"patrons/{kiosk}/{kiosks}").sample(owned, count)

    def items_of(self, kiosk: int, kiosks: int, count: int) -> list[int]:
        """Up to ``count`` item indexes owned by ``kiosk`` (disjoint from every other kiosk's)."""
        owned = range(kiosk, self.items, kiosks)
        if len(owned) <= count:
            return list(owned)
        return random.Random(f"items/{kiosk}/{kiosks}").sample(owned, count)
