"""How fast `sip2d import patrons` loads, with and without PINs, and how much memory it holds.

Writes a synthetic patrons CSV, migrates a fresh database (a SQLite file in a temporary
directory unless --url is given), imports the file twice (the second run is all updates) and
prints rows per second and the peak resident memory of this process. PINs are hashed at the
production argon2 cost by default (--cheap for the test suite's 64 KiB / t=1), with one thread
per core unless --threads says otherwise.

    .venv/bin/python benchmarks/import_csv.py --rows 1000000
    .venv/bin/python benchmarks/import_csv.py --rows 2000 --pins
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import tempfile
from pathlib import Path

from sip2d.auth.hashing import Pepper, PinHasher
from sip2d.auth.policy import PinPolicy
from sip2d.config import Argon2Config, DatabaseConfig, PinPolicyConfig
from sip2d.storage.csvimport import PATRONS, hash_workers, import_csv
from sip2d.storage.engine import make_engine
from sip2d.storage.migrate import upgrade


def write_csv(path: Path, rows: int, pins: bool, policy: PinPolicy) -> None:
    rng = random.Random(2025)
    good = [f"{n:04d}" for n in range(10_000) if policy.check(f"{n:04d}") is None]
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write("barcode,name,email,expires,profile" + (",pin" if pins else "") + "\n")
        for n in range(rows):
            line = f"2{n:09d},Patron {n},patron{n}@example.org,2030-12-31,adult"
            if pins:
                line += "," + rng.choice(good)
            fh.write(line + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--pins", action="store_true", help="give every row a PIN to hash")
    parser.add_argument("--cheap", action="store_true", help="argon2 at 64 KiB / t=1")
    parser.add_argument("--threads", type=int, default=0, help="hashing threads (0 = cores)")
    parser.add_argument("--url", default="", help="database URL (default: a temp SQLite file)")
    args = parser.parse_args()

    params = Argon2Config(memory_kib=64, time_cost=1) if args.cheap else Argon2Config()
    hasher = PinHasher(params, Pepper.generate())
    policy = PinPolicy.from_config(PinPolicyConfig())
    with tempfile.TemporaryDirectory() as tmp:
        url = args.url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        csv_path = Path(tmp) / "patrons.csv"
        write_csv(csv_path, args.rows, args.pins, policy)
        size_mb = csv_path.stat().st_size / 1e6
        upgrade(url)
        engine = make_engine(DatabaseConfig(), url=url)
        print(
            f"{args.rows:,} rows ({size_mb:.1f} MB), pins={args.pins}, "
            f"argon2 m={params.memory_kib} KiB t={params.time_cost}, "
            f"threads={hash_workers(args.threads)}, cores={os.cpu_count()}, "
            f"db={engine.dialect.name}"
        )
        try:
            for label in ("first import (inserts)", "second import (updates)"):
                result = import_csv(
                    engine, PATRONS, csv_path, hasher=hasher, policy=policy, workers=args.threads
                )
                print(
                    f"{label}: {result.loaded:,} rows in {result.seconds:.1f} s = "
                    f"{result.rows_per_second:,.0f} rows/s "
                    f"({result.inserted:,} new, {result.updated:,} updated, "
                    f"{result.pins_hashed:,} PINs hashed)"
                )
        finally:
            engine.dispose()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory of this process: {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
