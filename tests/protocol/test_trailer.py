"""Checksum algorithm, trailer location and the response-trailer decision (reference section 3)."""

from __future__ import annotations

import pytest

from sip2d.protocol import (
    LoginResponse,
    RequestACSResend,
    RequestSCResend,
    SCStatus,
    Trailer,
    compute_checksum,
    encode,
    reply_trailer,
    verify_checksum,
)
from sip2d.protocol.trailer import split_trailer

# Independently published vectors from reference 3.3 (prefix through AZ -> checksum).
PUBLISHED = [
    (b"9900302.00AY1AZ", "FCA5"),
    (b"941AY0AZ", "FDFD"),
    (b"990 402.00AY1AZ", "FCB4"),
    (b"96AZ", "FEF6"),
    (b"97AZ", "FEF5"),
    (
        b"09N20160419    12200820160419    122008APReading Room 1|AO830|AB830$28170815|AC|AY2AZ",
        "EB80",
    ),
    (b"9300CNLoginUserID|COLoginPassword|CPLocationCode|AY5AZ", "EC7B"),
]


@pytest.mark.parametrize(("prefix", "expected"), PUBLISHED)
def test_checksum_matches_published_vectors(prefix: bytes, expected: str) -> None:
    assert compute_checksum(prefix) == expected
    assert verify_checksum(prefix + expected.encode())
    assert verify_checksum(prefix + expected.lower().encode())


def test_checksum_is_zero_padded_upper_case() -> None:
    # A byte sum of 0xF123 gives 0x0EDD: four digits, leading zero kept (pitfall P3).
    data = b"\xff" * 242 + b"\x15"
    assert sum(data) & 0xFFFF == 0xF123
    assert compute_checksum(data) == "0EDD"
    assert compute_checksum(b"") == "0000"


def test_verify_rejects_spec_typo_and_non_hex() -> None:
    assert not verify_checksum(b"9300CNLoginUserID|COLoginPassword|CPLocationCode|AY5AZEC78")
    assert not verify_checksum(b"97AZFEFG")
    assert not verify_checksum(b"97")
    assert not verify_checksum(b"97FEF5")


def test_trailer_is_found_at_the_end_not_by_searching() -> None:
    body, trailer = split_trailer(b"64AEKAZUO HAYASHI|AFPAY AZ1234|AY6AZE100")
    assert body == b"64AEKAZUO HAYASHI|AFPAY AZ1234|"
    assert trailer == Trailer(6, "E100")
    body, trailer = split_trailer(b"64AEKAZUO HAYASHI|AFPAY AZ1234|")
    assert trailer is None
    assert body == b"64AEKAZUO HAYASHI|AFPAY AZ1234|"


def test_trailer_without_sequence_and_lower_case_hex() -> None:
    assert split_trailer(b"97AZfef5") == (b"97", Trailer(None, "FEF5"))
    # AY followed by a non-digit is not a sequence number.
    assert split_trailer(b"23AYxAZ0000") == (b"23AYx", Trailer(None, "0000"))


@pytest.mark.parametrize(
    ("request_trailer", "mode", "expected"),
    [
        (Trailer(3, "ABCD"), "auto", (3, True)),
        (Trailer(None, "ABCD"), "auto", (None, True)),
        (None, "auto", (None, False)),
        (Trailer(3, "ABCD"), "required", (3, True)),
        (None, "required", (None, True)),
        (Trailer(3, "ABCD"), "off", (None, False)),
        (None, "off", (None, False)),
        (None, "always", (None, True)),
        (Trailer(7, "ABCD"), "never", (None, False)),
    ],
)
def test_reply_trailer_mirrors_or_overrides(
    request_trailer: Trailer | None, mode: str, expected: tuple[int | None, bool]
) -> None:
    assert reply_trailer(request_trailer, mode) == expected


def test_reply_trailer_rejects_unknown_mode() -> None:
    with pytest.raises(ValueError, match="unknown error-detection mode"):
        reply_trailer(None, "sometimes")


def test_encode_appends_the_trailer() -> None:
    assert encode(LoginResponse(ok=True), sequence=0, checksum=True) == b"941AY0AZFDFD\r"
    # 9 4 1 A Z = 57+52+49+65+90 = 313 = 0x0139; 0x10000 - 0x0139 = 0xFEC7.
    assert encode(LoginResponse(ok=True), checksum=True) == b"941AZFEC7\r"
    assert encode(LoginResponse(ok=False)) == b"940\r"
    # Without checksum a sequence number alone is never emitted.
    assert encode(LoginResponse(ok=False), sequence=4) == b"940\r"
    assert encode(SCStatus(max_print_width=30), sequence=1, checksum=True, terminator=b"\r\n") == (
        b"9900302.00AY1AZFCA5\r\n"
    )


def test_resend_messages_never_carry_a_sequence_number() -> None:
    assert encode(RequestSCResend(), sequence=5, checksum=True) == b"96AZFEF6\r"
    assert encode(RequestACSResend(), sequence=5, checksum=True) == b"97AZFEF5\r"
    assert encode(RequestSCResend()) == b"96\r"


def test_sequence_must_be_one_digit() -> None:
    with pytest.raises(ValueError, match="single digit"):
        encode(LoginResponse(ok=True), sequence=10, checksum=True)
