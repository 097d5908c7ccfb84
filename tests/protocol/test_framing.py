"""FrameBuffer: CR/LF/CRLF framing, chunking, control bytes, the size limit and linear work."""

from __future__ import annotations

import pytest

from sip2d.protocol import FrameBuffer, FrameTooLong


def frames(buffer: FrameBuffer) -> list[bytes]:
    out = []
    while (frame := buffer.next_frame()) is not None:
        out.append(frame)
    return out


@pytest.mark.parametrize("terminator", [b"\r", b"\n", b"\r\n"])
def test_every_terminator_ends_a_frame_and_leaves_nothing_behind(terminator: bytes) -> None:
    buffer = FrameBuffer()
    buffer.feed(b"9900302.00" + terminator + b"97" + terminator)
    assert frames(buffer) == [b"9900302.00", b"97"]
    assert buffer.pending == 0


def test_crlf_split_between_chunks_does_not_leak_lf_into_next_frame() -> None:
    buffer = FrameBuffer()
    buffer.feed(b"9900302.00\r")
    assert frames(buffer) == [b"9900302.00"]
    buffer.feed(b"\n")
    assert frames(buffer) == []
    # The stray LF must not look like a frame in progress (the server times those out).
    assert buffer.pending == 0
    buffer.feed(b"97\r")
    assert frames(buffer) == [b"97"]


def test_frame_split_across_chunks() -> None:
    buffer = FrameBuffer()
    for chunk in (b"23001", b"20240315    143025AOMAIN|AA", b"1|AC|AD|\r"):
        assert frames(buffer) == []
        buffer.feed(chunk)
    assert frames(buffer) == [b"2300120240315    143025AOMAIN|AA1|AC|AD|"]


def test_pending_counts_an_incomplete_frame() -> None:
    buffer = FrameBuffer()
    buffer.feed(b"97\r2300")
    assert buffer.next_frame() == b"97"
    assert buffer.next_frame() is None
    assert buffer.pending == 4


def test_leading_control_bytes_and_empty_frames_are_dropped() -> None:
    buffer = FrameBuffer()
    buffer.feed(b"\r\r\n\x00\x00\x1b97\r\n\n\r\t\r")
    assert frames(buffer) == [b"97"]
    assert buffer.pending == 0


def test_frame_longer_than_maximum_raises_once_and_is_discarded() -> None:
    buffer = FrameBuffer(max_frame_bytes=32)
    buffer.feed(b"x" * 20)
    assert buffer.next_frame() is None
    buffer.feed(b"y" * 20)
    with pytest.raises(FrameTooLong):
        buffer.next_frame()
    assert buffer.pending == 0
    # The rest of the over-long frame is dropped without growing the buffer or raising again.
    for _ in range(10):
        buffer.feed(b"z" * 30)
        assert buffer.next_frame() is None
        assert buffer.pending == 0
    buffer.feed(b"zz\r97\r")
    assert frames(buffer) == [b"97"]


def test_complete_frame_longer_than_maximum_in_one_chunk() -> None:
    buffer = FrameBuffer(max_frame_bytes=8)
    buffer.feed(b"0123456789\r97\r")
    with pytest.raises(FrameTooLong):
        buffer.next_frame()
    assert frames(buffer) == [b"97"]


def test_frame_exactly_at_maximum_is_accepted() -> None:
    buffer = FrameBuffer(max_frame_bytes=10)
    buffer.feed(b"9900302.00\r")
    assert frames(buffer) == [b"9900302.00"]


def test_default_maximum_is_16_kib() -> None:
    assert FrameBuffer().max_frame_bytes == 16 * 1024


def test_maximum_must_be_positive() -> None:
    with pytest.raises(ValueError):
        FrameBuffer(0)


@pytest.mark.parametrize("size", [16 * 1024, 256 * 1024])
def test_one_byte_at_a_time_of_a_maximal_frame_completes(size: int) -> None:
    # Rescanning the tail from its start on every byte would be quadratic: ~34 billion byte
    # comparisons for 256 KiB, minutes of CPU. The remembered scan position makes it one pass.
    # No timing assertion: the suite's own runtime is the guard.
    body = b"64" + b"x" * (size - 3)
    buffer = FrameBuffer(max_frame_bytes=size)
    for byte in body:
        buffer.feed(bytes((byte,)))
        assert buffer.next_frame() is None
    assert buffer.pending == len(body)
    buffer.feed(b"\r")
    assert buffer.next_frame() == body


def test_many_frames_in_one_chunk() -> None:
    buffer = FrameBuffer()
    buffer.feed(b"97\r" * 10_000)
    assert frames(buffer) == [b"97"] * 10_000
