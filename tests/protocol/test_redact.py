"""Redaction: no secret ever shows in ``redacted_fields``, a message's ``repr`` or an error text.

The server logs ``redacted_fields(message)`` (formatted as JSON or as ``str`` of the dict) and
``str(error)`` for a frame it cannot decode, so those are the forms checked here. A secret is
checked wherever a kiosk can put it: in every layout field that holds one, and as an unknown
field (``extra``) in the request types whose layout has no such field. Messages are checked
both as built and as decoded from their own encoding, which is what a real kiosk delivers.

The secrets are long and start with ``Zq`` so they cannot turn up by chance in the rest of the
message; the rare example where they do is discarded rather than reported.
"""

from __future__ import annotations

import dataclasses
import json
import string
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from sip2d.protocol import (
    MESSAGE_TYPES,
    MalformedMessage,
    Message,
    ProtocolError,
    decode,
    encode,
    redacted_fields,
)
from sip2d.protocol.layout import OPTIONAL, Var
from sip2d.protocol.redact import MASK, secret_codes
from tests.protocol.test_properties import ENCODINGS, message_strategy

# The 16 requests a kiosk sends (SC -> ACS), in the order of reference section 7.
REQUEST_IDS = (
    "93", "99", "23", "63", "11", "09", "17", "19", "35", "37", "15", "29", "65", "01", "25", "97",
)  # fmt: skip
REQUEST_CLASSES = tuple(MESSAGE_TYPES[message_id] for message_id in REQUEST_IDS)
# What the layout tables must yield: terminal password, patron PIN, login password.
SECRET_CODES = frozenset({"AC", "AD", "CO"})

secrets = st.text(
    st.sampled_from(string.ascii_letters + string.digits), min_size=6, max_size=24
).map(lambda tail: "Zq" + tail)


def secret_vars(cls: type[Message]) -> list[Var]:
    """The layout fields of ``cls`` that hold a secret."""
    return [var for var in cls.LAYOUT.variable if var.code in SECRET_CODES]


def extra_codes(cls: type[Message]) -> list[str]:
    """The secret codes ``cls`` has no field for: sent anyway, they land in ``extra``."""
    own = {var.code for var in cls.LAYOUT.variable}
    return sorted(SECRET_CODES - own)


def positions() -> list[tuple[type[Message], str]]:
    """Every (request type, secret code) a kiosk can send, in the layout or as an extra."""
    return [(cls, code) for cls in REQUEST_CLASSES for code in sorted(SECRET_CODES)]


def logged_forms(message: Message) -> list[str]:
    """Every text a message turns into on its way to a log line or an exception."""
    fields = redacted_fields(message)
    return [repr(message), str(fields), json.dumps(fields, default=str, ensure_ascii=False)]


def assert_hidden(message: Message, secret: str) -> None:
    for form in logged_forms(message):
        assert secret not in form, f"secret shown by {type(message).__name__}"


def round_trip(message: Message, encoding: str) -> Message:
    return decode(encode(message, encoding)[:-1], encoding).message


def test_secret_codes_come_from_the_layout_tables() -> None:
    assert secret_codes() == SECRET_CODES


@pytest.mark.parametrize(("cls", "code"), positions(), ids=lambda v: getattr(v, "MESSAGE_ID", v))
# 48 cases: a few examples each, the combined test below does the volume.
@settings(max_examples=25)
@given(data=st.data(), secret=secrets)
def test_a_secret_in_any_one_position_is_masked(
    cls: type[Message], code: str, data: st.DataObject, secret: str
) -> None:
    base, encoding = data.draw(
        st.sampled_from(ENCODINGS).flatmap(
            lambda e: st.tuples(message_strategy(cls, e), st.just(e))
        )
    )
    assume(all(secret not in form for form in logged_forms(base)))
    layout_var = next((var for var in secret_vars(cls) if var.code == code), None)
    if layout_var is not None:
        placed: dict[str, Any] = {layout_var.attr: secret}
        message = dataclasses.replace(base, **placed)
        assert redacted_fields(message)[layout_var.attr] == MASK
    else:
        index = data.draw(st.integers(0, len(base.extra)))
        extra = (*base.extra[:index], (code, secret), *base.extra[index:])
        message = dataclasses.replace(base, extra=extra)
        assert redacted_fields(message)["extra"][index] == (code, MASK)  # type: ignore[index]
    assert_hidden(message, secret)
    assert_hidden(round_trip(message, encoding), secret)


@st.composite
def requests_with_secrets(draw: st.DrawFn) -> tuple[Message, str, dict[str, Any], list[str]]:
    """A request of any type with each secret position absent, empty or holding a secret.

    Returns the message, its encoding, what ``redacted_fields`` must show for each secret
    attribute, and the secrets placed.
    """
    cls = draw(st.sampled_from(REQUEST_CLASSES))
    encoding = draw(st.sampled_from(ENCODINGS))
    base = draw(message_strategy(cls, encoding))
    placed: list[str] = []
    changes: dict[str, Any] = {}
    expected: dict[str, Any] = {}
    for var in secret_vars(cls):
        choices: list[str | None] = ["", "secret"] + ([None] if var.need is OPTIONAL else [])
        choice = draw(st.sampled_from(choices))
        if choice == "secret":
            secret = draw(secrets)
            placed.append(secret)
            changes[var.attr], expected[var.attr] = secret, MASK
        else:
            changes[var.attr], expected[var.attr] = choice, choice
    extra = list(base.extra)
    for code in extra_codes(cls):
        choice = draw(st.sampled_from([None, "", "secret"]))
        if choice is None:
            continue
        value = ""
        if choice == "secret":
            value = draw(secrets)
            placed.append(value)
        extra.insert(draw(st.integers(0, len(extra))), (code, value))
    message = dataclasses.replace(base, **changes, extra=tuple(extra))
    emptied: dict[str, Any] = dict.fromkeys(changes, "")
    blank = dataclasses.replace(base, **emptied)
    assume(all(secret not in form for secret in placed for form in logged_forms(blank)))
    return message, encoding, expected, placed


@given(requests_with_secrets())
def test_every_secret_is_masked_wherever_it_was_placed(
    case: tuple[Message, str, dict[str, Any], list[str]],
) -> None:
    message, encoding, expected, placed = case
    for shown in (message, round_trip(message, encoding)):
        fields = redacted_fields(shown)
        # Masked, yet an empty secret stays "" and an absent one None.
        assert {attr: fields[attr] for attr in expected} == expected
        for code, value in fields["extra"]:  # type: ignore[attr-defined]
            if code in SECRET_CODES:
                assert value in ("", MASK)
        for secret in placed:
            assert_hidden(shown, secret)


def test_extras_keep_their_order_and_other_values() -> None:
    message = decode(b"1720240315    143025AOMAIN|AB2001|XXkeep|ADZq81pin|CO|YYalso|").message
    assert redacted_fields(message)["extra"] == (
        ("XX", "keep"),
        ("AD", MASK),
        ("CO", ""),
        ("YY", "also"),
    )


def test_a_lower_case_secret_code_is_masked_too() -> None:
    message = decode(b"09N20240315    14302520240315    143025APx|AOM|AB1|adZq81pin|").message
    assert redacted_fields(message)["extra"] == (("ad", MASK),)


# --- error texts -------------------------------------------------------------------------------


def spans(frame: bytes, placed: list[str]) -> list[tuple[int, int]]:
    found = []
    for secret in placed:
        needle = secret.encode("ascii")
        start = frame.find(needle)
        while start >= 0:
            found.append((start, start + len(needle)))
            start = frame.find(needle, start + 1)
    return found


@st.composite
def broken_frames(draw: st.DrawFn) -> tuple[bytes, str, list[str]]:
    """A request carrying secrets, broken without touching the secrets' own bytes."""
    message, encoding, _expected, placed = draw(requests_with_secrets())
    frame = encode(message, encoding, sequence=draw(st.integers(0, 9)), checksum=True)[:-1]
    taken = spans(frame, placed)

    def outside(index: int) -> bool:
        return all(index <= start or index >= end for start, end in taken)

    cuts = [index for index in range(len(frame) + 1) if outside(index)]
    action = draw(st.sampled_from(["checksum", "delete", "insert", "truncate"]))
    if action == "checksum":
        last = frame[-1:]
        frame = frame[:-1] + (b"0" if last != b"0" else b"1")
    elif action == "delete":
        start = draw(st.sampled_from(cuts))
        ends = [
            end for end in cuts if end > start and all(end <= s or start >= e for s, e in taken)
        ]
        if ends:
            frame = frame[:start] + frame[draw(st.sampled_from(ends)) :]
    elif action == "insert":
        at = draw(st.sampled_from(cuts))
        frame = frame[:at] + draw(st.binary(min_size=1, max_size=4)) + frame[at:]
    else:
        frame = frame[: draw(st.sampled_from(cuts))]
    return frame, encoding, placed


@given(broken_frames(), st.booleans())
def test_protocol_errors_name_fields_never_their_values(
    case: tuple[bytes, str, list[str]], strict: bool
) -> None:
    frame, encoding, placed = case
    try:
        decode(frame, encoding, strict=strict)
    except ProtocolError as exc:
        texts = [str(exc), repr(exc), exc.reason]
        if isinstance(exc, MalformedMessage):
            texts += [str(problem) for problem in exc.problems]
        for secret in placed:
            assert all(secret not in text for text in texts)
