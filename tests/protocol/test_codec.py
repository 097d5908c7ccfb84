"""decode/encode behaviour beyond the reference examples: leniency, strictness, errors, output
sanitising, character sets and redaction."""

from __future__ import annotations

import dataclasses
from datetime import datetime

import pytest

from sip2d.protocol import (
    MESSAGE_TYPES,
    ACSStatus,
    CheckinRequest,
    ChecksumError,
    FrameBuffer,
    LoginRequest,
    LoginResponse,
    MalformedMessage,
    PatronInformationResponse,
    PatronStatus,
    PatronStatusRequest,
    PatronStatusResponse,
    ProtocolError,
    RequestACSResend,
    RequestSCResend,
    SCStatus,
    SupportedMessages,
    UnknownMessage,
    compute_checksum,
    decode,
    encode,
    encode_body,
    finish_frame,
    peek_message_id,
    redacted_fields,
    validate,
)

DATE = datetime(2024, 3, 15, 14, 30, 25)
NAME = "José Müller-Öztürk"


def with_checksum(body: bytes, sequence: int | None = None) -> bytes:
    suffix = b"AZ" if sequence is None else b"AY%dAZ" % sequence
    return body + suffix + compute_checksum(body + suffix).encode()


# --- the message table ---------------------------------------------------------------------

# Reference 7.17: fixed-part length of every message.
FIXED_LENGTHS = {
    "01": 19, "09": 37, "10": 22, "11": 38, "12": 22, "15": 19, "16": 20, "17": 18, "18": 24,
    "19": 18, "20": 19, "23": 21, "24": 35, "25": 18, "26": 35, "29": 38, "30": 22, "35": 18,
    "36": 19, "37": 25, "38": 19, "63": 31, "64": 59, "65": 18, "66": 27, "93": 2, "94": 1,
    "96": 0, "97": 0, "98": 34, "99": 8,
}  # fmt: skip


def test_every_2_00_message_is_known_with_the_reference_fixed_length() -> None:
    assert set(MESSAGE_TYPES) == set(FIXED_LENGTHS)
    for message_id, cls in MESSAGE_TYPES.items():
        assert message_id == cls.MESSAGE_ID
        assert cls.LAYOUT.fixed_width == FIXED_LENGTHS[message_id], message_id


# --- leniency (reference section 10) --------------------------------------------------------


def test_missing_final_delimiter_and_double_delimiters() -> None:
    message = decode(b"2300120240315    143025AOMAIN||AA123||AC|AD99").message
    assert isinstance(message, PatronStatusRequest)
    assert message.patron_identifier == "123"
    assert message.patron_password == "99"
    assert message.terminal_password == ""


def test_missing_lenient_fields_default_to_empty() -> None:
    message = decode(b"2300120240315    143025AA123|").message
    assert isinstance(message, PatronStatusRequest)
    assert (message.institution_id, message.terminal_password, message.patron_password) == (
        "",
        "",
        "",
    )


def test_missing_required_field_names_message_field_and_position() -> None:
    frame = b"2300120240315    143025AOMAIN|AC|AD1234|"
    with pytest.raises(MalformedMessage) as info:
        decode(frame)
    assert (info.value.message_id, info.value.field) == ("23", "AA")
    assert info.value.position == len(frame)
    assert "1234" not in str(info.value)


def test_blank_and_zero_dates_are_none() -> None:
    message = decode(b"09N" + b" " * 18 + b"0" * 18 + b"APX|AOM|AB1|AC|").message
    assert isinstance(message, CheckinRequest)
    assert message.transaction_date is None
    assert message.return_date is None


def test_lower_case_y_is_true_and_zone_letters_accepted() -> None:
    message = decode(b"11yy20240315   Z143040                  AA1|AB2|BOy|").message
    assert message == decode(b"11YY20240315   Z143040                  AA1|AB2|BOY|").message
    assert message.no_block is True
    assert message.fee_acknowledged is True


def test_lower_case_checksum_and_crlf_and_lf_framing() -> None:
    buffer = FrameBuffer()
    buffer.feed(b"9900302.00AY1AZfca5\r\n9900402.00\n")
    first, second = buffer.next_frame(), buffer.next_frame()
    assert first is not None and second is not None
    assert decode(first).message == SCStatus(max_print_width=30)
    assert decode(first).trailer is not None
    assert decode(second).message == SCStatus(max_print_width=40)


def test_duplicate_field_keeps_first_and_repeatable_fields_accumulate() -> None:
    received = decode(b"24              00020240315    143025AOA|AOB|AA1|AEX|AFone|AFtwo|AGp|")
    message = received.message
    assert isinstance(message, PatronStatusResponse)
    assert message.institution_id == "A"
    assert message.screen_message == ("one", "two")
    assert message.print_line == ("p",)
    problems = validate(received.raw)
    assert [(p.field, p.reason) for p in problems] == [("AO", "field repeated (first kept)")]


def test_unknown_fields_are_kept_and_written_after_the_known_ones() -> None:
    message = decode(b"24              00020240315    143025ZZfirst|AOM|AA1|AE|PB1980|").message
    assert message.extra == (("ZZ", "first"), ("PB", "1980"))
    assert encode(message).endswith(b"AOM|AA1|AE|ZZfirst|PB1980|\r")


def test_ay_az_letters_in_data_without_a_trailer() -> None:
    # The value itself ends in "AZ" + 4 hex digits, but the final "|" shows it is data.
    message = decode(b"24              00020240315    143025AOM|AA1|AEKAZUO AZBEEF|").message
    assert message.personal_name == "KAZUO AZBEEF"


def test_odd_print_width_is_read_leniently() -> None:
    assert decode(b"990 402.00").message == SCStatus(max_print_width=40)
    assert decode(b"990xx02.00").message == SCStatus(max_print_width=999)


def test_utf8_account_receiving_latin1_falls_back_instead_of_failing() -> None:
    wire = encode(_name_response(), "latin-1")[:-1]
    message = decode(wire, "utf-8").message
    assert message.personal_name == NAME
    problems = validate(wire, "utf-8")
    assert [p.reason for p in problems] == ["bytes are not valid utf-8"]


# --- character sets: the E52-E54 vectors built from a message ------------------------------


def _name_response() -> PatronStatusResponse:
    return PatronStatusResponse(
        language="001",
        transaction_date=datetime(2024, 3, 15, 14, 42, 0),
        institution_id="MAIN",
        patron_identifier="23025001234567",
        personal_name=NAME,
        valid_patron=True,
        valid_patron_password=True,
    )


@pytest.mark.parametrize(
    ("encoding", "checksum"), [("utf-8", "E3DB"), ("latin-1", "E5E7"), ("cp850", "E781")]
)
def test_non_ascii_name_checksum_is_over_encoded_bytes(encoding: str, checksum: str) -> None:
    wire = encode(_name_response(), encoding, sequence=5, checksum=True)
    assert wire.endswith(f"AY5AZ{checksum}\r".encode())
    assert NAME.encode(encoding) in wire
    assert decode(wire[:-1], encoding).message == _name_response()


def test_ascii_transliterates() -> None:
    wire = encode(_name_response(), "ascii")
    assert b"AEJose Muller-Ozturk|" in wire
    tokyo = encode(dataclasses.replace(_name_response(), personal_name="東京 Ωmega"), "ascii")
    assert b"AE?? ?mega|" in tokyo


def test_unencodable_characters_become_question_marks() -> None:
    message = PatronStatusResponse(
        transaction_date=DATE, institution_id="M", patron_identifier="1", personal_name="東京"
    )
    assert b"AE??|" in encode(message, "cp850")
    assert b"AE??|" in encode(message, "latin-1")
    assert "東京".encode() in encode(message, "utf-8")


# --- output sanitising -----------------------------------------------------------------------


def test_forbidden_characters_become_spaces() -> None:
    message = PatronStatusResponse(
        transaction_date=DATE,
        institution_id="MA|IN",
        patron_identifier="1\r2",
        personal_name="a\nb\x00c",
        screen_message=("x|y",),
    )
    wire = encode(message)
    assert wire.count(b"\r") == 1
    assert b"\n" not in wire and b"\x00" not in wire
    assert b"AOMA IN|AA1 2|AEa b c|AFx y|" in wire


@pytest.mark.parametrize("encoding", ["utf-8", "latin-1", "cp850", "ascii"])
def test_values_are_cut_to_255_encoded_bytes_without_splitting_characters(encoding: str) -> None:
    long_name = "é" * 300
    message = PatronStatusResponse(
        transaction_date=DATE, institution_id="M", patron_identifier="1", personal_name=long_name
    )
    wire = encode(message, encoding)
    value = wire.split(b"|AE", 1)[1].split(b"|", 1)[0]
    assert len(value) <= 255
    text = value.decode(encoding)  # a split UTF-8 sequence would fail here
    expected_char = "e" if encoding == "ascii" else "é"
    assert set(text) == {expected_char}
    assert len(value) >= 254  # cut at the limit, not far below it


def test_counts_clamp_and_blank() -> None:
    message = PatronInformationResponse(
        transaction_date=DATE,
        institution_id="M",
        patron_identifier="1",
        personal_name="",
        hold_items_count=12345,
        overdue_items_count=None,
        charged_items_count=-3,
        hold_items_limit=10000,
    )
    wire = encode(message)
    assert wire[37:61] == b"9999    0000000000000000"
    assert b"BZ9999|" in wire
    decoded = decode(wire[:-1]).message
    assert decoded.overdue_items_count is None


def test_fixed_code_fields_are_forced_to_their_width() -> None:
    wire = encode(PatronStatusRequest(language="1", transaction_date=DATE, patron_identifier="1"))
    assert wire.startswith(b"231  20240315")
    status = encode(
        ACSStatus(
            date_time_sync=DATE,
            protocol_version="2.000\r",
            institution_id="M",
            supported_messages=SupportedMessages.all(),
            timeout_period=5000,
        )
    )
    assert status[8:14] == b"999999"
    assert status[32:36] == b"2.00"


# --- errors ----------------------------------------------------------------------------------


def test_bad_checksum_raises_checksum_error_before_decoding() -> None:
    with pytest.raises(ChecksumError) as info:
        decode(b"2300120240315    143025AOMAIN|AA1|AC|AD|AY2AZ0000")
    assert info.value.message_id == "23"
    assert isinstance(info.value, ProtocolError)


def test_unknown_message_id() -> None:
    with pytest.raises(UnknownMessage) as info:
        decode(b"42hello|")
    assert info.value.message_id == "42"
    with pytest.raises(UnknownMessage) as info:
        decode(b"xyz")
    assert info.value.message_id is None


@pytest.mark.parametrize(
    ("frame", "field", "position"),
    [
        (b"2300120240315", "transaction_date", 13),
        (b"2", None, 1),
        (b"9900", "max_print_width", 4),
    ],
)
def test_too_short_frames(frame: bytes, field: str | None, position: int) -> None:
    with pytest.raises(MalformedMessage) as info:
        decode(frame)
    assert info.value.field == field
    assert info.value.position == position


def test_fixed_part_of_the_wrong_length_is_refused() -> None:
    # The 3M guide's own 23 example has a 15-character date; cutting 18 lands mid-field.
    with pytest.raises(MalformedMessage) as info:
        decode(b"23001199801011234   AOinst|AApatron|AC|AD|")
    assert info.value.message_id == "23"
    assert "fixed part" in info.value.reason


def test_count_that_is_not_a_number() -> None:
    frame = b"64" + b" " * 14 + b"000" + b"20240315    143025" + b"12a4" + b"0000" * 5 + b"AA1|"
    with pytest.raises(MalformedMessage) as info:
        decode(frame)
    assert (info.value.field, info.value.position) == ("hold_items_count", 37)


def test_variable_count_that_is_not_a_number() -> None:
    head = b"64" + b" " * 14 + b"000" + b"20240315    143025" + b"0000" * 6
    frame = head + b"AOM|AA1|AE|BZ0010|CA12a4|"
    with pytest.raises(MalformedMessage) as info:
        decode(frame)
    assert (info.value.field, info.value.position) == ("CA", frame.index(b"CA12a4"))


def test_fixed_part_alone_lacks_the_required_fields() -> None:
    with pytest.raises(MalformedMessage) as info:
        decode(b"2300120240315    143025")
    assert (info.value.field, info.value.reason) == ("AA", "required field missing")
    # Messages whose variable fields are all optional or lenient decode from the fixed part.
    message = decode(b"6610000000020240315    143900").message
    assert message.institution_id == ""
    assert message.renewed_items == ()


def test_nul_byte_is_refused() -> None:
    with pytest.raises(MalformedMessage, match="NUL"):
        decode(b"9300CNa|CO\x00|")


def test_peek_message_id() -> None:
    assert peek_message_id(b"\n\x0023garbage") == "23"
    assert peek_message_id(b"4") is None
    assert peek_message_id(b"AB12") is None


# --- strict mode -----------------------------------------------------------------------------


def test_strict_mode_collects_every_problem() -> None:
    status = "N   Y".ljust(14)  # "N" is not a patron-status value (pitfall P11)
    body = f"24{status}00020240315    143025AOMAIN|AA1|BLy|CQ|AFhi".encode()
    # Only the checksum is lower case; everything else keeps its mistakes.
    frame = body + b"AY3AZ" + compute_checksum(body + b"AY3AZ").lower().encode()
    lenient = decode(frame)
    assert lenient.message.valid_patron is True
    with pytest.raises(MalformedMessage) as info:
        decode(frame, strict=True)
    found = {(p.field, p.reason) for p in info.value.problems}
    assert found == {
        ("patron_status", "positions must be Y or space"),
        (None, "last variable field is not terminated by |"),
        ("BL", "flag must be Y or N"),
        ("CQ", "flag must be Y or N"),
        ("AE", "required field missing"),
        ("AZ", "lower-case checksum"),
    }
    assert info.value.received is not None
    assert info.value.received.message == lenient.message
    assert validate(frame) == info.value.problems


def test_strict_mode_reports_fatal_and_formal_problems_together() -> None:
    with pytest.raises(MalformedMessage) as info:
        decode(b"2300120240315    143025AOMAIN|ACx|ADy", strict=True)
    fields = [p.field for p in info.value.problems]
    assert "AA" in fields and None in fields
    assert info.value.received is None


def test_strict_mode_flags_sequence_on_resend_and_long_values() -> None:
    problems = validate(with_checksum(b"97", 1))
    assert [p.field for p in problems] == ["AY"]
    long_value = b"x" * 256
    problems = validate(b"9300CN" + long_value + b"|COp|")
    assert [(p.field, p.reason) for p in problems] == [("CN", "value longer than 255 bytes")]
    assert validate(b"9900302.00junk")[0].reason == "unexpected data after the fixed part"


def test_canonical_encoder_output_is_strictly_valid() -> None:
    message = LoginRequest(login_user_id="sc01", login_password="pw")
    assert validate(encode(message, sequence=0, checksum=True)[:-1]) == ()


# --- redaction -------------------------------------------------------------------------------


def test_secrets_never_show_in_repr_or_redacted_fields() -> None:
    login = decode(b"9300CNsc01|COs3cret!|CPBRANCH1|").message
    assert "s3cret!" not in repr(login)
    fields = redacted_fields(login)
    assert fields["login_password"] == "***"
    assert fields["login_user_id"] == "sc01"
    received = decode(b"2300120240315    143025AOMAIN|AA1|ACtermpw|AD9876|")
    assert "9876" not in repr(received) and "termpw" not in repr(received)
    fields = redacted_fields(received.message)
    assert fields["patron_password"] == "***"
    assert fields["terminal_password"] == "***"
    assert fields["patron_identifier"] == "1"
    assert fields["transaction_date"] == DATE


def test_empty_secrets_stay_empty_so_logs_show_whether_a_pin_was_sent() -> None:
    message = decode(b"2300120240315    143025AOMAIN|AA1|AC|AD|").message
    fields = redacted_fields(message)
    assert fields["patron_password"] == ""
    assert fields["terminal_password"] == ""


def test_patron_status_value_type_reaches_the_message() -> None:
    message = decode(b"24YYYY          00020240315    143025AOM|AA1|AE|BLN|").message
    assert message.patron_status == PatronStatus.unknown_patron()


@pytest.mark.parametrize("sequence", [None, 0, 9])
@pytest.mark.parametrize("checksum", [False, True])
def test_encode_is_finish_frame_of_encode_body(sequence: int | None, checksum: bool) -> None:
    """Encoding once and adding a trailer per request gives exactly what encode gives."""
    for message in (LoginResponse(ok=True), RequestSCResend(), RequestACSResend()):
        body = encode_body(message, "cp850")
        framed = finish_frame(body, sequence=sequence, checksum=checksum, terminator=b"\r\n")
        expected = encode(
            message, "cp850", sequence=sequence, checksum=checksum, terminator=b"\r\n"
        )
        assert framed == expected
