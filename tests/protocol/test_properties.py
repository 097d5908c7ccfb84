"""Property tests (hypothesis) for everything that takes untrusted input or must round-trip.

- ``decode(encode(m)) == m`` for generated messages of every type, in every supported encoding,
  with and without the error-detection trailer; the encoder's output is also strictly valid.
- Arbitrary bytes, in arbitrary chunkings, through FrameBuffer and decode: the only exceptions
  are ProtocolError subclasses. Mutated real frames are used as well so the fuzzing reaches the
  field parsers instead of stopping at "unknown message id".
- Any single-byte corruption makes the checksum fail, except flipping the case of a hex letter
  inside the checksum itself, which is the same number and must still verify.
- Chunking never changes which frames come out.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sip2d.protocol import (
    MESSAGE_CLASSES,
    FrameBuffer,
    Message,
    PatronStatus,
    ProtocolError,
    Summary,
    SupportedMessages,
    compute_checksum,
    decode,
    encode,
    validate,
    verify_checksum,
)
from sip2d.protocol import layout as L
from sip2d.protocol.values import ZONE_BY_LETTER

ENCODINGS = ["utf-8", "latin-1", "cp850", "ascii"]

VECTORS = Path(__file__).parent.parent / "vectors" / "examples.jsonl"
EXAMPLE_FRAMES = [
    json.loads(line)["wire"].encode(json.loads(line)["encoding"]).rstrip(b"\r\n")
    for line in VECTORS.read_text(encoding="utf-8").splitlines()
]


def text_values(encoding: str, max_size: int = 30) -> st.SearchStrategy[str]:
    # Values a conformant sender can carry in this encoding: no control characters, no "|".
    return st.text(
        st.characters(codec=encoding, exclude_categories=("Cc", "Cs"), exclude_characters="|"),
        max_size=max_size,
    )


dates = st.one_of(
    st.none(),
    st.datetimes(min_value=datetime(1000, 1, 1), max_value=datetime(9999, 12, 31)).map(
        lambda d: d.replace(microsecond=0)
    ),
    st.builds(
        lambda d, zone: d.replace(microsecond=0, tzinfo=zone),
        st.datetimes(min_value=datetime(1000, 1, 2), max_value=datetime(9999, 12, 30)),
        st.sampled_from(sorted(ZONE_BY_LETTER.values(), key=str)),
    ),
)


def flags_of(cls: type) -> st.SearchStrategy[Any]:
    return st.builds(cls, *([st.booleans()] * len(dataclasses.fields(cls))))


def value_strategy(kind: L.Kind, width: int | None, encoding: str) -> st.SearchStrategy[Any]:
    if kind is L.TEXT:
        return text_values(encoding)
    if kind is L.DIGITS:
        assert width is not None
        return st.text(st.sampled_from("0123456789"), min_size=width, max_size=width)
    if kind is L.CODE:
        assert width is not None
        # Printable ASCII but "|", which no value may contain (the encoder makes it a space).
        return st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E,
                                     exclude_characters="|"),
                       min_size=width, max_size=width)  # fmt: skip
    if kind is L.FLAG_YN or kind is L.FLAG_OK:
        return st.booleans()
    if kind is L.FLAG_YNU:
        return st.one_of(st.none(), st.booleans())
    if kind is L.DATE or kind is L.DATE_BLANK_OK:
        return dates
    if kind is L.COUNT:
        return st.one_of(st.none(), st.integers(0, 9999))
    if kind is L.NUMBER3:
        return st.integers(0, 999)
    if kind is L.NUMBER:
        return st.integers(0, 10**9)
    if kind is L.PATRON_STATUS:
        return flags_of(PatronStatus)
    if kind is L.SUMMARY:
        return flags_of(Summary)
    if kind is L.SUPPORTED:
        return flags_of(SupportedMessages)
    raise AssertionError(f"no strategy for {kind.name}")


def message_strategy(cls: type[Message], encoding: str) -> st.SearchStrategy[Message]:
    kwargs: dict[str, st.SearchStrategy[Any]] = {}
    for fixed in cls.LAYOUT.fixed:
        kwargs[fixed.attr] = value_strategy(fixed.kind, fixed.width, encoding)
    known = set()
    for var in cls.LAYOUT.variable:
        known.add(var.code)
        base = value_strategy(var.kind, None, encoding)
        if var.repeatable:
            kwargs[var.attr] = st.lists(base, max_size=3).map(tuple)
        elif var.need is L.OPTIONAL and var.kind is not L.DATE:
            kwargs[var.attr] = st.one_of(st.none(), base)
        elif var.kind is L.DATE:
            kwargs[var.attr] = base  # already includes None (= absent)
        else:
            kwargs[var.attr] = base
    codes = st.text(st.characters(min_codepoint=0x41, max_codepoint=0x5A), min_size=2, max_size=2)
    # AY/AZ are reserved for the trailer; any other unknown code is a legitimate extension.
    unknown = codes.filter(lambda code: code not in known and code not in ("AY", "AZ"))
    if cls.LAYOUT.variable:  # 94/96/97/99 have no variable part for unknown fields to join
        extra = st.lists(st.tuples(unknown, text_values(encoding)), max_size=3).map(tuple)
        kwargs["extra"] = extra
    return st.builds(cls, **kwargs)


@st.composite
def messages_with_encoding(
    draw: st.DrawFn, classes: tuple[type[Message], ...] = MESSAGE_CLASSES
) -> tuple[Message, str]:
    encoding = draw(st.sampled_from(ENCODINGS))
    cls = draw(st.sampled_from(classes))
    return draw(message_strategy(cls, encoding)), encoding


def frames_of(data: bytes, chunks: list[int]) -> list[bytes]:
    buffer = FrameBuffer()
    out = []
    start = 0
    for size in [*chunks, len(data)]:
        buffer.feed(data[start : start + size])
        start += size
        while (frame := buffer.next_frame()) is not None:
            out.append(frame)
    return out


@pytest.mark.parametrize("cls", MESSAGE_CLASSES, ids=lambda cls: cls.MESSAGE_ID)
@settings(max_examples=40)
@given(
    data=st.data(),
    checksum=st.booleans(),
    sequence=st.one_of(st.none(), st.integers(0, 9)),
    terminator=st.sampled_from([b"\r", b"\r\n"]),
)
def test_decode_of_encode_is_identity(
    cls: type[Message],
    data: st.DataObject,
    checksum: bool,
    sequence: int | None,
    terminator: bytes,
) -> None:
    message, encoding = data.draw(messages_with_encoding((cls,)))
    wire = encode(message, encoding, sequence=sequence, checksum=checksum, terminator=terminator)
    assert wire.endswith(terminator)
    [frame] = frames_of(wire, [])
    received = decode(frame, encoding)
    assert received.message == message
    if not checksum:
        assert received.trailer is None
    else:
        assert received.trailer is not None
        assert verify_checksum(frame)
        expected_sequence = None if message.MESSAGE_ID in ("96", "97") else sequence
        assert received.trailer.sequence == expected_sequence
    # The encoder's output is conformant; the only strict complaints possible are about
    # values the caller chose (a blank transaction date, several summary categories).
    allowed = {"date is blank", "more than one summary category selected"}
    assert {p.reason for p in validate(frame, encoding)} <= allowed


@given(st.binary(max_size=300), st.lists(st.integers(1, 50), max_size=10), st.booleans())
def test_arbitrary_bytes_only_ever_raise_protocol_errors(
    data: bytes, chunks: list[int], strict: bool
) -> None:
    try:
        frames = frames_of(data, chunks)
    except ProtocolError:
        return
    for frame in frames:
        with contextlib.suppress(ProtocolError):
            decode(frame, "utf-8", strict=strict)
        validate(frame, "cp850")


@st.composite
def mutated_frames(draw: st.DrawFn) -> bytes:
    frame = bytearray(draw(st.sampled_from(EXAMPLE_FRAMES)))
    for _ in range(draw(st.integers(1, 4))):
        action = draw(st.sampled_from(["replace", "insert", "delete", "truncate"]))
        index = draw(st.integers(0, max(len(frame) - 1, 0)))
        byte = draw(st.sampled_from([*b"|YN 0123456789AZyz", *range(256)]))
        if action == "replace" and frame:
            frame[index] = byte
        elif action == "insert":
            frame.insert(index, byte)
        elif action == "delete" and frame:
            del frame[index]
        elif action == "truncate":
            del frame[index:]
    data = bytes(frame)
    if draw(st.booleans()) and len(data) > 6 and data[-6:-4] == b"AZ":
        # Re-seal so the mutation reaches the field parsers instead of the checksum check.
        data = data[:-4] + compute_checksum(data[:-4]).encode()
    return data


@given(mutated_frames(), st.sampled_from(ENCODINGS), st.booleans())
def test_mutated_real_frames_only_ever_raise_protocol_errors(
    frame: bytes, encoding: str, strict: bool
) -> None:
    try:
        received = decode(frame, encoding, strict=strict)
    except ProtocolError as exc:
        assert exc.reason
        return
    # Whatever decoded must encode again, and encoding normalises in one step: the output
    # (values sanitised, fixed fields forced to printable ASCII) decodes to a fixed point.
    once = decode(encode(received.message, encoding)[:-1], encoding).message
    twice = decode(encode(once, encoding)[:-1], encoding).message
    assert twice == once


@given(messages_with_encoding(), st.integers(0, 9), st.data())
def test_any_single_byte_corruption_breaks_the_checksum(
    pair: tuple[Message, str], sequence: int, data: st.DataObject
) -> None:
    message, encoding = pair
    frame = encode(message, encoding, sequence=sequence, checksum=True)[:-1]
    assert verify_checksum(frame)
    index = data.draw(st.integers(0, len(frame) - 1))
    replacement = data.draw(st.integers(0, 255).filter(lambda b: b != frame[index]))
    corrupted = frame[:index] + bytes((replacement,)) + frame[index + 1 :]
    in_checksum_digits = index >= len(frame) - 4
    same_hex_digit = (
        in_checksum_digits
        and chr(frame[index]).isalpha()
        and chr(replacement).lower() == chr(frame[index]).lower()
    )
    # Flipping the case of a hex letter in the checksum is the same number: still valid.
    assert verify_checksum(corrupted) is same_hex_digit


@given(
    st.lists(st.sampled_from(EXAMPLE_FRAMES), min_size=1, max_size=6),
    st.lists(st.sampled_from([b"\r", b"\n", b"\r\n"]), min_size=6, max_size=6),
    st.lists(st.integers(1, 40), max_size=20),
)
def test_chunking_never_changes_the_frames(
    frames: list[bytes], terminators: list[bytes], chunks: list[int]
) -> None:
    stream = b"".join(f + t for f, t in zip(frames, terminators, strict=False))
    assert frames_of(stream, chunks) == frames
    assert frames_of(stream, [1] * len(stream)) == frames
