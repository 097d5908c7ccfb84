"""The 57 examples of reference section 11 (tests/vectors/examples.jsonl), end to end.

Each example goes through the real FrameBuffer and decode, and is checked against the fields the
reference documents for it (written into the vector file from the example's description), its
checksum verdict, strict validation, and a byte-for-byte re-encode where the example is canonical.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from sip2d import protocol
from sip2d.protocol import (
    ChecksumError,
    FrameBuffer,
    MalformedMessage,
    decode,
    encode,
    validate,
    verify_checksum,
)

VECTORS = Path(__file__).parent.parent / "vectors" / "examples.jsonl"
EXAMPLES = [json.loads(line) for line in VECTORS.read_text(encoding="utf-8").splitlines()]


def frame_of(example: dict[str, Any]) -> tuple[bytes, bytes]:
    """(frame, terminator) of an example, framed by the real FrameBuffer."""
    wire = example["wire"].encode(example["encoding"])
    buffer = FrameBuffer()
    buffer.feed(wire)
    frame = buffer.next_frame()
    assert frame is not None
    assert buffer.next_frame() is None
    assert buffer.pending == 0
    return frame, wire[len(frame) :]


def plain(value: Any) -> Any:
    """A decoded value in the JSON form the vector file uses."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple):
        return [plain(item) for item in value]
    if isinstance(value, protocol.PatronStatus | protocol.Summary | protocol.SupportedMessages):
        return str(value)
    return value


def attribute(message: object, path: str) -> Any:
    value: Any = message
    for part in path.split("."):
        value = getattr(value, part)
    return plain(value)


def test_the_vector_file_holds_all_57_examples() -> None:
    assert [e["id"] for e in EXAMPLES] == [f"E{n:02d}" for n in range(1, 58)]


@pytest.mark.parametrize("example", EXAMPLES, ids=[e["name"] for e in EXAMPLES])
def test_example_decodes_to_documented_fields(example: dict[str, Any]) -> None:
    frame, _ = frame_of(example)
    if example.get("error") == "ChecksumError":
        with pytest.raises(ChecksumError) as info:
            decode(frame, example["encoding"])
        assert info.value.message_id == frame[:2].decode()
        assert info.value.field == "AZ"
        return
    received = decode(frame, example["encoding"])
    message = received.message
    assert type(message).__name__ == example["message_type"]
    assert frame[:2].decode() == message.MESSAGE_ID
    assert received.raw == frame
    for path, expected in example["fields"].items():
        assert attribute(message, path) == expected, path
    if example["trailer"] is None:
        assert received.trailer is None
    else:
        assert received.trailer == protocol.Trailer(**example["trailer"])


@pytest.mark.parametrize("example", EXAMPLES, ids=[e["name"] for e in EXAMPLES])
def test_example_checksum_verdict(example: dict[str, Any]) -> None:
    frame, _ = frame_of(example)
    if example["checksum_ok"] is None:
        assert b"AZ" not in frame[-6:]
        assert not verify_checksum(frame)
    else:
        assert verify_checksum(frame) is example["checksum_ok"]


@pytest.mark.parametrize("example", EXAMPLES, ids=[e["name"] for e in EXAMPLES])
def test_example_strict_validation(example: dict[str, Any]) -> None:
    frame, _ = frame_of(example)
    problems = validate(frame, example["encoding"])
    assert [p.field for p in problems] == example["strict_problem_fields"]
    if example["strict_problem_fields"] and "error" not in example:
        with pytest.raises(MalformedMessage) as info:
            decode(frame, example["encoding"], strict=True)
        # Strict failures that are only about form still hand over the decoded message.
        assert info.value.received is not None
        assert type(info.value.received.message).__name__ == example["message_type"]


@pytest.mark.parametrize(
    "example", [e for e in EXAMPLES if e["canonical"]], ids=lambda e: e["name"]
)
def test_canonical_example_reencodes_byte_for_byte(example: dict[str, Any]) -> None:
    frame, terminator = frame_of(example)
    received = decode(frame, example["encoding"])
    trailer = received.trailer
    wire = encode(
        received.message,
        example["encoding"],
        sequence=trailer.sequence if trailer else None,
        checksum=trailer is not None,
        terminator=terminator,
    )
    assert wire == example["wire"].encode(example["encoding"])


@pytest.mark.parametrize(
    "example",
    [e for e in EXAMPLES if not e["canonical"] and "error" not in e],
    ids=lambda e: e["name"],
)
def test_non_canonical_example_reencodes_to_a_canonical_equivalent(
    example: dict[str, Any],
) -> None:
    frame, _ = frame_of(example)
    received = decode(frame, example["encoding"])
    trailer = received.trailer
    wire = encode(
        received.message,
        example["encoding"],
        sequence=trailer.sequence if trailer else None,
        checksum=trailer is not None,
    )
    assert wire != example["wire"].encode(example["encoding"])
    again = decode(wire[:-1], example["encoding"])
    assert again.message == received.message
    # E11's 15-flag BX comes back padded to 16: the output is always conformant.
    assert validate(wire[:-1], example["encoding"]) == ()
