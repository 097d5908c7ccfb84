"""Codec throughput: sip2d.protocol against PyPI pysip2 0.1.0 on the same frames, same run.

Why this exists: the codec sits on the server's hot path (every 99 keep-alive, every checkout), and
the project's goal is at least 1.5x the throughput of pysip2's codec, the strict typed codec of
the peer server. Machines are noisy, so both are measured in one process, interleaved, and the
ratio is what counts.

What is measured: one "message" = decode one frame into a typed message, then encode that message
back to wire bytes with the same trailer (what a server does for a request and its response).
The frames are a kiosk session taken from the protocol reference (login, status, patron status
and information, checkout, checkin, item information, end session, fee, hold, renew), with and
without error detection. sip2d receives frames without their CR (as FrameBuffer hands them
over); pysip2 requires the CR, so it gets it.

pysip2 is NOT a project dependency. Install it into the virtualenv to compare:
    .venv/bin/pip install pysip2==0.1.0
Without it the script still reports sip2d's own figure.

Usage: .venv/bin/python benchmarks/codec.py [--seconds 0.2] [--repeat 15]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from sip2d import protocol

# (encoding, wire frame without terminator): a plausible session, requests and responses.
SESSION: list[tuple[str, bytes]] = [
    ("ascii", b"9300CNsc01|COs3cret|CPBRANCH1|AY0AZF53B"),
    ("ascii", b"941AY0AZFDFD"),
    ("ascii", b"9900302.00AY1AZFCA5"),
    (
        "ascii",
        b"98YYYYNN01000320240315    1430222.00AOMAIN|AMMain Library|BXYYYYYYYYYYYYYYYY|"
        b"ANBRANCH1|AY1AZE5C3",
    ),
    ("ascii", b"2300120240315    143025AOMAIN|AA23025001234567|AC|AD1234|AY2AZF1A1"),
    (
        "ascii",
        b"24              00120240315    143025AOMAIN|AA23025001234567|AEJane Doe|BLY|CQY|"
        b"BHUSD|BV0.00|AY2AZE863",
    ),
    (
        "ascii",
        b"6300120240315    143030  Y       AOMAIN|AA23025001234567|AC|AD1234|BP1|BQ5|AY3AZEDA4",
    ),
    (
        "ascii",
        b"64      Y       00120240315    143030000100010003000000000000AOMAIN|AA23025001234567|"
        b"AEJane Doe|BZ0010|CA0005|CB0020|BLY|CQY|BHUSD|BV2.50|CC10.00|AU31234000456789|"
        b"AU31234000456790|AU31234000456791|BDElm Street 1, Springfield|BEjane@example.org|"
        b"BF555-0100|AFYou have 1 overdue item|AY3AZB3CB",
    ),
    (
        "ascii",
        b"121NNY20240315    143040AOMAIN|AA23025001234567|AB31234000456789|AJThe Hobbit|"
        b"AH20240405    235900|CK001|AFDue 05 April 2024|AY4AZDFDD",
    ),
    (
        "ascii",
        b"09N20240315    14305020240315    143050APBRANCH1|AOMAIN|AB31234000456789|AC|AY5AZED73",
    ),
    ("ascii", b"1720240315    143055AOMAIN|AB31234000456789|AC|AY6AZF3E6"),
    (
        "ascii",
        b"1804020120240315    143055CF1|AH20240405    235900|AB31234000456789|AJThe Hobbit|"
        b"BGMAIN|CK001|AQMAIN|APMAIN|AY6AZE3A6",
    ),
    ("ascii", b"3520240315    143059AOMAIN|AA23025001234567|AC|AD1234|AY8AZF222"),
    ("ascii", b"36Y20240315    143059AOMAIN|AA23025001234567|AFThank you for visiting|AY8AZEB29"),
    (
        "ascii",
        b"3720240315    1436000400USDBV2.50|AOMAIN|AA23025001234567|AC|CGFINE-0042|BKTXN-778|"
        b"AY9AZEA78",
    ),
    (
        "ascii",
        b"38Y20240315    143600AOMAIN|AA23025001234567|BKTXN-778|AFPayment accepted|AY9AZEA88",
    ),
    (
        "ascii",
        b"161N20240315    143700BW20240415    235900|BR3|BSBRANCH1|AOMAIN|AA23025001234567|"
        b"AB31234000456789|AJThe Hobbit|AY0AZE37E",
    ),
    (
        "ascii",
        b"301YNY20240315    143800AOMAIN|AA23025001234567|AB31234000456789|AJThe Hobbit|"
        b"AH20240426    235900|AY1AZE70F",
    ),
    ("ascii", b"6520240315    143900AOMAIN|AA23025001234567|AD1234|AC|BON|AY2AZF0CF"),
    (
        "ascii",
        b"6610002000120240315    143900AOMAIN|BM31234000456789|BM31234000456790|BN31234000456791|"
        b"AFRenewed 2 of 3 items|AY2AZE3CE",
    ),
    ("ascii", b"9900402.00"),
    (
        "ascii",
        b"24YYYY          00020240315    143026AOMAIN|AA99999999|AE|BLN|AFInvalid patron barcode|",
    ),
    (
        "ascii",
        b"120NUN20240315    143041AOMAIN|AA23025001234567|AB31234000456789|AJThe Hobbit|AH|"
        b"AFItem is on hold for another patron|",
    ),
    (
        "utf-8",
        "24              00120240315    144200AOMAIN|AA23025001234567|AEJosé Müller-Öztürk|"
        "BLY|CQY|AY5AZE3DB".encode(),
    ),
]

Roundtrip = Callable[[str, bytes], bytes]


def sip2d_roundtrip(encoding: str, frame: bytes) -> bytes:
    received = protocol.decode(frame, encoding)
    trailer = received.trailer
    if trailer is None:
        return protocol.encode(received.message, encoding)
    return protocol.encode(received.message, encoding, sequence=trailer.sequence, checksum=True)


def load_pysip2() -> Roundtrip | None:
    try:
        import pysip2  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        return None
    decode_message: Any = pysip2.decode_message
    encode_message: Any = pysip2.encode_message

    def pysip2_roundtrip(encoding: str, frame: bytes) -> bytes:
        decoded = decode_message(frame + b"\r", encoding=encoding)
        result: bytes = encode_message(
            decoded.message,
            sequence_number=decoded.sequence_number,
            checksum=decoded.checksum is not None,
            encoding=encoding,
        )
        return result

    return pysip2_roundtrip


def measure(roundtrip: Roundtrip, frames: list[tuple[str, bytes]], seconds: float) -> float:
    """Messages per CPU-second over whole passes through the session lasting ``seconds``.

    CPU time of this process, not wall time: on a shared machine other processes steal the CPU
    in bursts, and wall-clock figures then say more about the neighbours than about the codec.
    """
    passes = 0
    start = time.process_time()
    deadline = start + seconds
    while True:
        for encoding, frame in frames:
            roundtrip(encoding, frame)
        passes += 1
        now = time.process_time()
        if now >= deadline:
            return passes * len(frames) / (now - start)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=0.2, help="CPU seconds of one measurement")
    parser.add_argument("--repeat", type=int, default=15, help="measurements per codec")
    args = parser.parse_args(argv)

    # Sanity first: both codecs must turn every frame back into the same bytes.
    for encoding, frame in SESSION:
        wire = sip2d_roundtrip(encoding, frame)
        if wire != frame + b"\r":
            print(f"sip2d does not reproduce {frame[:2].decode()}: {wire!r}", file=sys.stderr)
            return 1

    rivals: dict[str, Roundtrip] = {"sip2d": sip2d_roundtrip}
    pysip2_roundtrip = load_pysip2()
    if pysip2_roundtrip is None:
        print(
            "pysip2 is not installed; reporting sip2d only "
            "(compare with: .venv/bin/pip install pysip2==0.1.0)"
        )
    else:
        for encoding, frame in SESSION:
            wire = pysip2_roundtrip(encoding, frame)
            if wire != frame + b"\r":
                print(f"note: pysip2 re-encodes {frame[:2].decode()} differently: {wire!r}")
        rivals["pysip2 0.1.0"] = pysip2_roundtrip

    print(
        f"{len(SESSION)} frames per pass (kiosk session, requests and responses); one message = "
        f"decode + encode; {args.repeat} rounds of {args.seconds:.2f} CPU-s per codec, alternating"
    )
    results: dict[str, list[float]] = {name: [] for name in rivals}
    ratios: list[float] = []
    for _ in range(args.repeat):
        for name, roundtrip in rivals.items():
            results[name].append(measure(roundtrip, SESSION, args.seconds))
        if len(rivals) == 2:
            # Each round's two measurements ran back to back under the same conditions.
            ratios.append(results["sip2d"][-1] / results["pysip2 0.1.0"][-1])

    print(f"{'codec':<14} {'median msg/s':>14} {'best msg/s':>12} {'us/msg':>8}")
    for name, figures in results.items():
        median = statistics.median(figures)
        print(f"{name:<14} {median:>14,.0f} {max(figures):>12,.0f} {1e6 / median:>8.1f}")
    if ratios:
        print(
            f"ratio sip2d / pysip2: median {statistics.median(ratios):.2f}x "
            f"(rounds: min {min(ratios):.2f}x, max {max(ratios):.2f}x; goal >= 1.5x)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
