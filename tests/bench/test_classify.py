"""Response classification: the generator's only judgement of what a server said."""

from __future__ import annotations

from datetime import datetime

from hypothesis import given
from hypothesis import strategies as st

from sip2d.bench.classify import (
    OK,
    REFUSED,
    RESEND_REQUESTED,
    TRUNCATED,
    WRONG_RESPONSE,
    Rule,
    classify,
    field_flag,
)
from sip2d.protocol import (
    CheckoutResponse,
    EndSessionResponse,
    LoginResponse,
    Message,
    PatronInformationResponse,
    PatronStatus,
    PatronStatusResponse,
    RequestSCResend,
    encode,
)

WHEN = datetime(2026, 1, 2, 3, 4, 5)
OUTCOMES = {OK, REFUSED, RESEND_REQUESTED, TRUNCATED, WRONG_RESPONSE}


def frame(message: Message) -> bytes:
    """A response as the kiosk loop sees it: encoded by sip2d's own codec, CR stripped."""
    return encode(message, "utf-8", sequence=4, checksum=True).rstrip(b"\r")


def status(valid: bool, pin: bool | None, name: str = "Ann") -> bytes:
    return frame(
        PatronStatusResponse(
            patron_status=PatronStatus(),
            language="000",
            transaction_date=WHEN,
            institution_id="MAIN",
            patron_identifier="2000000001",
            personal_name=name,
            valid_patron=valid,
            valid_patron_password=pin,
        )
    )


def information(valid: bool, pin: bool | None) -> bytes:
    return frame(
        PatronInformationResponse(
            patron_status=PatronStatus(),
            language="000",
            transaction_date=WHEN,
            hold_items_count=0,
            overdue_items_count=0,
            charged_items_count=0,
            fine_items_count=0,
            recall_items_count=0,
            unavailable_holds_count=0,
            institution_id="MAIN",
            patron_identifier="2000000001",
            personal_name="Ann",
            valid_patron=valid,
            valid_patron_password=pin,
        )
    )


def checkout(ok: bool) -> bytes:
    return frame(
        CheckoutResponse(
            ok=ok,
            renewal_ok=False,
            magnetic_media=None,
            desensitize=ok,
            transaction_date=WHEN,
            institution_id="MAIN",
            patron_identifier="2000000001",
            item_identifier="3000000001",
            title_identifier="T",
            due_date="",
        )
    )


def test_flag_rules_follow_the_first_fixed_field() -> None:
    assert classify(frame(LoginResponse(ok=True)), b"94", Rule.FLAG_1) == OK
    assert classify(frame(LoginResponse(ok=False)), b"94", Rule.FLAG_1) == REFUSED
    assert classify(checkout(True), b"12", Rule.FLAG_1) == OK
    assert classify(checkout(False), b"12", Rule.FLAG_1) == REFUSED
    ended = EndSessionResponse(
        end_session=True, transaction_date=WHEN, institution_id="M", patron_identifier="1"
    )
    assert classify(frame(ended), b"36", Rule.FLAG_Y) == OK


def test_patron_rules_read_bl_and_cq() -> None:
    for builder, response_id in ((status, b"24"), (information, b"64")):
        assert classify(builder(True, None), response_id, Rule.PATRON) == OK
        assert classify(builder(False, None), response_id, Rule.PATRON) == REFUSED
        assert classify(builder(True, True), response_id, Rule.PATRON_PIN) == OK
        assert classify(builder(True, False), response_id, Rule.PATRON_PIN) == REFUSED
        # A PIN was sent but the server said nothing about it: not an answer a kiosk accepts.
        assert classify(builder(True, None), response_id, Rule.PATRON_PIN) == REFUSED


def test_a_name_that_looks_like_a_field_does_not_fool_it() -> None:
    # Field codes only count after a delimiter; text inside another field is not a field.
    tricky = status(False, None, name="BLYCQY")
    assert classify(tricky, b"24", Rule.PATRON_PIN) == REFUSED


def test_wrong_id_and_resend_are_errors() -> None:
    assert classify(checkout(True), b"10", Rule.FLAG_1) == WRONG_RESPONSE
    assert classify(frame(RequestSCResend()), b"12", Rule.FLAG_1) == RESEND_REQUESTED
    assert classify(b"24", b"24", Rule.PATRON) == TRUNCATED
    assert classify(b"12", b"12", Rule.FLAG_1) == TRUNCATED


@given(
    st.binary(max_size=300), st.sampled_from([b"24", b"64", b"12", b"98"]), st.sampled_from(Rule)
)
def test_any_bytes_get_an_outcome_never_an_exception(data: bytes, rid: bytes, rule: Rule) -> None:
    assert classify(data, rid, rule) in OUTCOMES
    assert classify(rid + data, rid, rule) in OUTCOMES


@given(st.binary(max_size=200), st.integers(min_value=0, max_value=250))
def test_field_flag_reads_within_the_frame(data: bytes, start: int) -> None:
    found = field_flag(data, start, b"BL")
    if found is not None:
        assert 0 <= found <= 255
        assert b"BL" in data
