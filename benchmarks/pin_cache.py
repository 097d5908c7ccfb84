"""What the per-connection PIN cache saves on each repeated PIN-bearing message.

A self-check session sends the patron's PIN with 63 Patron Information and again with every
11 Checkout. Without the cache each of those messages costs one argon2id verification at the
configured parameters (run here directly, on one thread); with it, every message after the
first costs one HMAC-SHA256 and a constant-time compare. The figures printed are the median
per-message cost of each path and their ratio; run it on the machine you deploy on.

    .venv/bin/python benchmarks/pin_cache.py [--rounds N] [--memory-kib M --time-cost T]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import datetime

from sip2d.auth.hashing import Pepper, PinHasher
from sip2d.auth.session_cache import PinSessionCache, new_cache_key
from sip2d.config import Argon2Config


def median_seconds(fn: Callable[[], None], rounds: int, inner: int) -> float:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(inner):
            fn()
        samples.append((time.perf_counter() - start) / inner)
    return statistics.median(samples)


def main() -> None:
    defaults = Argon2Config()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--memory-kib", type=int, default=defaults.memory_kib)
    parser.add_argument("--time-cost", type=int, default=defaults.time_cost)
    parser.add_argument("--parallelism", type=int, default=defaults.parallelism)
    args = parser.parse_args()
    params = Argon2Config(args.memory_kib, args.time_cost, args.parallelism)

    pin, barcode, now = "730519", "P0001", datetime(2025, 1, 1)
    hasher = PinHasher(params, Pepper.generate())
    record = hasher.hash(pin)
    cache = PinSessionCache(new_cache_key(), ttl_seconds=300)
    cache.remember(barcode, pin, now)

    def uncached() -> None:
        assert hasher.verify(record, pin).ok

    def cached() -> None:
        assert cache.matches(barcode, pin, now)

    slow = median_seconds(uncached, args.rounds, 1)
    fast = median_seconds(cached, args.rounds, 20_000)
    print(
        f"argon2id m={params.memory_kib} KiB t={params.time_cost} p={params.parallelism}, "
        f"median of {args.rounds}"
    )
    print(f"per message without cache (argon2id verify): {slow * 1e3:10.3f} ms")
    print(f"per message with cache (HMAC + compare):     {fast * 1e6:10.3f} us")
    print(f"ratio: {slow / fast:,.0f}x")
    print(
        f"a 10-item checkout: {11 * slow * 1e3:.0f} ms of argon2 without the cache, "
        f"{(slow + 10 * fast) * 1e3:.1f} ms with it"
    )


if __name__ == "__main__":
    main()
