"""Every SIP2 2.00 message as a small immutable class, with its wire layout as a table.

Why: the daemon, the client and the conformance suite should handle ``CheckoutRequest`` objects with
typed attributes, never strings and offsets. Each class is a frozen, slotted, keyword-only
dataclass; its ``LAYOUT`` class attribute is the data the generic codec (:mod:`.codec`) reads and
writes by. Attribute names are the snake_case of the reference's field names.

Conventions shared by all classes:
- Fixed fields always have a value. Dates are ``datetime | None`` (``None`` = 18 spaces), Y/N and
  0/1 flags ``bool``, Y/N/U flags ``bool | None`` (``None`` = U), 4-digit counts ``int | None``
  (``None`` = four spaces, values clamped to 9999 on output), codes ``str``.
- Variable fields marked R in the table have no default and must be given. R* fields (required by
  the spec, routinely empty or missing) default to ``""``. Optional fields default to ``None``
  (omitted on output); ``""`` means "present but empty" (``AC|``). Repeatable fields are tuples.
- ``extra`` keeps unknown field codes as ``(code, value)`` pairs, in received order; they are
  written back after the known fields.
- Variable fields are written in the order of the table (the spec order of reference section 7);
  they are accepted in any order.
- ``transaction_date`` has no default: the codec never reads a clock, so the caller supplies it.
- ``repr`` masks the PIN, terminal password and login password (see :mod:`.redact`).

Field table (code  attribute  requirement; "rep" = repeatable):

93 LoginRequest: fixed uid_algorithm(1) pwd_algorithm(1); CN login_user_id R, CO login_password R,
   CP location_code O
94 LoginResponse: fixed ok(1)
99 SCStatus: fixed status_code(1) max_print_width(3) protocol_version(4)
98 ACSStatus: fixed online_status checkin_ok checkout_ok acs_renewal_policy status_update_ok
   offline_ok (Y/N each), timeout_period(3) retries_allowed(3) date_time_sync(18)
   protocol_version(4); AO institution_id R*, AM library_name O, BX supported_messages R*,
   AN terminal_location O, AF screen_message rep, AG print_line rep
97 RequestACSResend, 96 RequestSCResend: no fields
23 PatronStatusRequest: fixed language(3) transaction_date(18); AO institution_id R*,
   AA patron_identifier R, AC terminal_password R*, AD patron_password R*
24 PatronStatusResponse: fixed patron_status(14) language(3) transaction_date(18);
   AO institution_id R*, AA patron_identifier R, AE personal_name R*, BL valid_patron O,
   CQ valid_patron_password O, BH currency_type O, BV fee_amount O, AF, AG
01 BlockPatron: fixed card_retained(1) transaction_date(18); AO institution_id R*,
   AL blocked_card_msg R*, AA patron_identifier R, AC terminal_password R*
63 PatronInformationRequest: fixed language(3) transaction_date(18) summary(10);
   AO R*, AA R, AC terminal_password O, AD patron_password O, BP start_item O, BQ end_item O
64 PatronInformationResponse: fixed patron_status(14) language(3) transaction_date(18)
   hold_items_count overdue_items_count charged_items_count fine_items_count
   recall_items_count unavailable_holds_count (4 each); AO R*, AA R, AE personal_name R*,
   BZ hold_items_limit, CA overdue_items_limit, CB charged_items_limit, BL valid_patron,
   CQ valid_patron_password, BH currency_type, BV fee_amount, CC fee_limit, AS hold_items rep,
   AT overdue_items rep, AU charged_items rep, AV fine_items rep, BU recall_items rep,
   CD unavailable_hold_items rep, BD home_address, BE email_address, BF home_phone_number, AF, AG
11 CheckoutRequest: fixed sc_renewal_policy(1) no_block(1) transaction_date(18) nb_due_date(18);
   AO R*, AA R, AB item_identifier R, AC terminal_password R*, CH item_properties O,
   AD patron_password O, BO fee_acknowledged O, BI cancel O
12 CheckoutResponse / 30 RenewResponse: fixed ok(1) renewal_ok(1) magnetic_media(1)
   desensitize(1) transaction_date(18); AO R*, AA R, AB R, AJ title_identifier R*,
   AH due_date R* (free text), BT fee_type, CI security_inhibit, BH currency_type, BV fee_amount,
   CK media_type, CH item_properties, BK transaction_id, AF, AG
09 CheckinRequest: fixed no_block(1) transaction_date(18) return_date(18);
   AP current_location R*, AO R*, AB R, AC terminal_password R*, CH item_properties O, BI cancel O
10 CheckinResponse: fixed ok(1) resensitize(1) magnetic_media(1) alert(1) transaction_date(18);
   AO R*, AB R, AQ permanent_location R*, AJ title_identifier, CL sort_bin, AA patron_identifier,
   CK media_type, CH item_properties, extensions CR collection_code, CS call_number,
   CT destination_location, CY hold_patron_id, DA hold_patron_name, CV alert_type; AF, AG
17 ItemInformationRequest: fixed transaction_date(18); AO R*, AB R, AC terminal_password O
18 ItemInformationResponse: fixed circulation_status(2) security_marker(2) fee_type(2)
   transaction_date(18); CF hold_queue_length, AH due_date, CJ recall_date, CM hold_pickup_date,
   AB R, AJ title_identifier R*, BG owner, BH currency_type, BV fee_amount, CK media_type,
   AQ permanent_location, AP current_location, CH item_properties, extensions CS call_number,
   CT destination_location; AF, AG
19 ItemStatusUpdateRequest: fixed transaction_date(18); AO R*, AB R, AC terminal_password O,
   CH item_properties R*
20 ItemStatusUpdateResponse: fixed item_properties_ok(1) transaction_date(18); AB R,
   AJ title_identifier, CH item_properties, AF, AG
25 PatronEnableRequest: fixed transaction_date(18); AO R*, AA R, AC O, AD O
26 PatronEnableResponse: fixed as 24; AO R*, AA R, AE personal_name R*, BL, CQ, AF, AG
35 EndPatronSessionRequest: fixed transaction_date(18); AO R*, AA R, AC O, AD O
36 EndSessionResponse: fixed end_session(1) transaction_date(18); AO R*, AA R, AF, AG
37 FeePaidRequest: fixed transaction_date(18) fee_type(2) payment_type(2) currency_type(3);
   BV fee_amount R, AO R*, AA R, AC O, AD O, CG fee_identifier O, BK transaction_id O
38 FeePaidResponse: fixed payment_accepted(1) transaction_date(18); AO R*, AA R,
   BK transaction_id O, AF, AG
15 HoldRequest: fixed hold_mode(1) transaction_date(18); BW expiration_date, BS pickup_location,
   BY hold_type, AO R*, AA R, AD patron_password, AB item_identifier, AJ title_identifier,
   AC terminal_password, BO fee_acknowledged (all O but AO, AA)
16 HoldResponse: fixed ok(1) available(1) transaction_date(18); BW expiration_date,
   BR queue_position, BS pickup_location, AO R*, AA R, AB item_identifier, AJ title_identifier,
   AF, AG
29 RenewRequest: fixed third_party_allowed(1) no_block(1) transaction_date(18) nb_due_date(18);
   AO R*, AA R, AD, AB, AJ, AC, CH, BO (O)
65 RenewAllRequest: fixed transaction_date(18); AO R*, AA R, AD, AC, BO (O)
66 RenewAllResponse: fixed ok(1) renewed_count(4) unrenewed_count(4) transaction_date(18);
   AO R*, BM renewed_items rep, BN unrenewed_items rep, AF, AG
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from typing import ClassVar

from sip2d.protocol.layout import (
    CALL_NUMBER,
    CANCEL,
    CODE,
    COUNT,
    CURRENCY_TYPE,
    CURRENT_LOCATION,
    DATE,
    DATE_BLANK_OK,
    DESTINATION_LOCATION,
    DIGITS,
    DUE_DATE,
    FEE_ACKNOWLEDGED,
    FEE_AMOUNT,
    FEE_TYPE,
    FLAG_OK,
    FLAG_YN,
    FLAG_YNU,
    INSTITUTION_ID,
    ITEM_IDENTIFIER,
    ITEM_PROPERTIES,
    LANGUAGE,
    LENIENT,
    MEDIA_TYPE,
    NUMBER,
    NUMBER3,
    OK,
    PATRON_IDENTIFIER,
    PATRON_PASSWORD,
    PATRON_PASSWORD_OPT,
    PATRON_STATUS_FIELD,
    PERMANENT_LOCATION,
    PERSONAL_NAME,
    PRINT_LINE,
    REQUIRED,
    SCREEN_MESSAGE,
    SECURITY_INHIBIT,
    SUMMARY,
    SUPPORTED,
    TERMINAL_PASSWORD,
    TERMINAL_PASSWORD_OPT,
    TEXT,
    TITLE_IDENTIFIER,
    TRANSACTION_DATE,
    TRANSACTION_ID,
    VALID_PATRON,
    VALID_PATRON_PASSWORD,
    Fixed,
    Layout,
    Var,
)
from sip2d.protocol.redact import redacted_repr
from sip2d.protocol.values import PatronStatus, Summary, SupportedMessages

Extra = tuple[tuple[str, str], ...]

# Immutable defaults, shared by every instance.
_GOOD_STANDING = PatronStatus()
_COUNTS_ONLY = Summary()


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class Message:
    """Base of every message class. ``MESSAGE_ID`` is the two-digit id, ``LAYOUT`` the table."""

    MESSAGE_ID: ClassVar[str] = ""
    LAYOUT: ClassVar[Layout] = Layout()

    extra: Extra = ()

    def __repr__(self) -> str:
        return redacted_repr(self)


# --- 93 / 94 Login ------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class LoginRequest(Message):
    """93 Login (SC -> ACS)."""

    MESSAGE_ID: ClassVar[str] = "93"
    LAYOUT: ClassVar[Layout] = Layout(
        fixed=(Fixed("uid_algorithm", 1, CODE), Fixed("pwd_algorithm", 1, CODE)),
        variable=(
            Var("CN", "login_user_id", TEXT, REQUIRED),
            Var("CO", "login_password", TEXT, REQUIRED),
            Var("CP", "location_code", TEXT),
        ),
    )

    uid_algorithm: str = "0"
    pwd_algorithm: str = "0"
    login_user_id: str
    login_password: str
    location_code: str | None = None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class LoginResponse(Message):
    """94 Login Response (ACS -> SC)."""

    MESSAGE_ID: ClassVar[str] = "94"
    LAYOUT: ClassVar[Layout] = Layout(fixed=(OK,))

    ok: bool


# --- 99 / 98 Status -----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class SCStatus(Message):
    """99 SC Status (SC -> ACS). ``max_print_width`` reads unreadable text as 999 (unknown)."""

    MESSAGE_ID: ClassVar[str] = "99"
    LAYOUT: ClassVar[Layout] = Layout(
        fixed=(
            Fixed("status_code", 1, DIGITS),
            Fixed("max_print_width", 3, NUMBER3),
            Fixed("protocol_version", 4, CODE),
        )
    )

    status_code: str = "0"
    max_print_width: int = 40
    protocol_version: str = "2.00"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class ACSStatus(Message):
    """98 ACS Status (ACS -> SC)."""

    MESSAGE_ID: ClassVar[str] = "98"
    LAYOUT: ClassVar[Layout] = Layout(
        fixed=(
            Fixed("online_status", 1, FLAG_YN),
            Fixed("checkin_ok", 1, FLAG_YN),
            Fixed("checkout_ok", 1, FLAG_YN),
            Fixed("acs_renewal_policy", 1, FLAG_YN),
            Fixed("status_update_ok", 1, FLAG_YN),
            Fixed("offline_ok", 1, FLAG_YN),
            Fixed("timeout_period", 3, NUMBER3),
            Fixed("retries_allowed", 3, NUMBER3),
            Fixed("date_time_sync", 18, DATE),
            Fixed("protocol_version", 4, CODE),
        ),
        variable=(
            INSTITUTION_ID,
            Var("AM", "library_name", TEXT),
            Var("BX", "supported_messages", SUPPORTED, LENIENT),
            Var("AN", "terminal_location", TEXT),
            SCREEN_MESSAGE,
            PRINT_LINE,
        ),
    )

    online_status: bool = True
    checkin_ok: bool = False
    checkout_ok: bool = False
    acs_renewal_policy: bool = False
    status_update_ok: bool = False
    offline_ok: bool = False
    timeout_period: int = 999
    retries_allowed: int = 999
    date_time_sync: datetime | None
    protocol_version: str = "2.00"
    institution_id: str
    library_name: str | None = None
    supported_messages: SupportedMessages
    terminal_location: str | None = None
    screen_message: tuple[str, ...] = ()
    print_line: tuple[str, ...] = ()


# --- 97 / 96 Resend -----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class RequestACSResend(Message):
    """97 Request ACS Resend (SC -> ACS): resend the last response. Never carries AY."""

    MESSAGE_ID: ClassVar[str] = "97"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class RequestSCResend(Message):
    """96 Request SC Resend (ACS -> SC): the last request's checksum failed. Never carries AY."""

    MESSAGE_ID: ClassVar[str] = "96"


# --- 23 / 24 Patron Status, 01 Block Patron ---------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class PatronStatusRequest(Message):
    """23 Patron Status Request (SC -> ACS)."""

    MESSAGE_ID: ClassVar[str] = "23"
    LAYOUT: ClassVar[Layout] = Layout(
        fixed=(LANGUAGE, TRANSACTION_DATE),
        variable=(INSTITUTION_ID, PATRON_IDENTIFIER, TERMINAL_PASSWORD, PATRON_PASSWORD),
    )

    language: str = "000"
    transaction_date: datetime | None
    institution_id: str = ""
    patron_identifier: str
    terminal_password: str = ""
    patron_password: str = ""


_PATRON_STATUS_RESPONSE_LAYOUT = Layout(
    fixed=(PATRON_STATUS_FIELD, LANGUAGE, TRANSACTION_DATE),
    variable=(
        INSTITUTION_ID,
        PATRON_IDENTIFIER,
        PERSONAL_NAME,
        VALID_PATRON,
        VALID_PATRON_PASSWORD,
        CURRENCY_TYPE,
        FEE_AMOUNT,
        SCREEN_MESSAGE,
        PRINT_LINE,
    ),
)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class PatronStatusResponse(Message):
    """24 Patron Status Response (ACS -> SC); also the answer to 01 Block Patron."""

    MESSAGE_ID: ClassVar[str] = "24"
    LAYOUT: ClassVar[Layout] = _PATRON_STATUS_RESPONSE_LAYOUT

    patron_status: PatronStatus = _GOOD_STANDING
    language: str = "000"
    transaction_date: datetime | None
    institution_id: str
    patron_identifier: str
    personal_name: str
    valid_patron: bool | None = None
    valid_patron_password: bool | None = None
    currency_type: str | None = None
    fee_amount: str | None = None
    screen_message: tuple[str, ...] = ()
    print_line: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class BlockPatron(Message):
    """01 Block Patron (SC -> ACS), answered by a 24."""

    MESSAGE_ID: ClassVar[str] = "01"
    LAYOUT: ClassVar[Layout] = Layout(
        fixed=(Fixed("card_retained", 1, FLAG_YN), TRANSACTION_DATE),
        variable=(
            INSTITUTION_ID,
            Var("AL", "blocked_card_msg", TEXT, LENIENT),
            PATRON_IDENTIFIER,
            TERMINAL_PASSWORD,
        ),
    )

    card_retained: bool = False
    transaction_date: datetime | None
    institution_id: str = ""
    blocked_card_msg: str = ""
    patron_identifier: str
    terminal_password: str = ""


# --- 63 / 64 Patron Information -----------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class PatronInformationRequest(Message):
    """63 Patron Information (SC -> ACS). ``start_item``/``end_item`` are 1-based, inclusive."""

    MESSAGE_ID: ClassVar[str] = "63"
    LAYOUT: ClassVar[Layout] = Layout(
        fixed=(LANGUAGE, TRANSACTION_DATE, Fixed("summary", 10, SUMMARY)),
        variable=(
            INSTITUTION_ID,
            PATRON_IDENTIFIER,
            TERMINAL_PASSWORD_OPT,
            PATRON_PASSWORD_OPT,
            Var("BP", "start_item", NUMBER),
            Var("BQ", "end_item", NUMBER),
        ),
    )

    language: str = "000"
    transaction_date: datetime | None
    summary: Summary = _COUNTS_ONLY
    institution_id: str = ""
    patron_identifier: str
    terminal_password: str | None = None
    patron_password: str | None = None
    start_item: int | None = None
    end_item: int | None = None


def _list_field(code: str, attr: str) -> Var:
    return Var(code, attr, TEXT, repeatable=True)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class PatronInformationResponse(Message):
    """64 Patron Information Response (ACS -> SC)."""

    MESSAGE_ID: ClassVar[str] = "64"
    LAYOUT: ClassVar[Layout] = Layout(
        fixed=(
            PATRON_STATUS_FIELD,
            LANGUAGE,
            TRANSACTION_DATE,
            Fixed("hold_items_count", 4, COUNT),
            Fixed("overdue_items_count", 4, COUNT),
            Fixed("charged_items_count", 4, COUNT),
            Fixed("fine_items_count", 4, COUNT),
            Fixed("recall_items_count", 4, COUNT),
            Fixed("unavailable_holds_count", 4, COUNT),
        ),
        variable=(
            INSTITUTION_ID,
            PATRON_IDENTIFIER,
            PERSONAL_NAME,
            Var("BZ", "hold_items_limit", COUNT),
            Var("CA", "overdue_items_limit", COUNT),
            Var("CB", "charged_items_limit", COUNT),
            VALID_PATRON,
            VALID_PATRON_PASSWORD,
            CURRENCY_TYPE,
            FEE_AMOUNT,
            Var("CC", "fee_limit", TEXT),
            _list_field("AS", "hold_items"),
            _list_field("AT", "overdue_items"),
            _list_field("AU", "charged_items"),
            _list_field("AV", "fine_items"),
            _list_field("BU", "recall_items"),
            _list_field("CD", "unavailable_hold_items"),
            Var("BD", "home_address", TEXT),
            Var("BE", "email_address", TEXT),
            Var("BF", "home_phone_number", TEXT),
            SCREEN_MESSAGE,
            PRINT_LINE,
        ),
    )

    patron_status: PatronStatus = _GOOD_STANDING
    language: str = "000"
    transaction_date: datetime | None
    hold_items_count: int | None = 0
    overdue_items_count: int | None = 0
    charged_items_count: int | None = 0
    fine_items_count: int | None = 0
    recall_items_count: int | None = 0
    unavailable_holds_count: int | None = 0
    institution_id: str
    patron_identifier: str
    personal_name: str
    hold_items_limit: int | None = None
    overdue_items_limit: int | None = None
    charged_items_limit: int | None = None
    valid_patron: bool | None = None
    valid_patron_password: bool | None = None
    currency_type: str | None = None
    fee_amount: str | None = None
    fee_limit: str | None = None
    hold_items: tuple[str, ...] = ()
    overdue_items: tuple[str, ...] = ()
    charged_items: tuple[str, ...] = ()
    fine_items: tuple[str, ...] = ()
    recall_items: tuple[str, ...] = ()
    unavailable_hold_items: tuple[str, ...] = ()
    home_address: str | None = None
    email_address: str | None = None
    home_phone_number: str | None = None
    screen_message: tuple[str, ...] = ()
    print_line: tuple[str, ...] = ()


# --- 11 / 12 Checkout, 29 / 30 Renew ------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class CheckoutRequest(Message):
    """11 Checkout (SC -> ACS). ``cancel=True`` undoes a checkin that failed at the SC."""

    MESSAGE_ID: ClassVar[str] = "11"
    LAYOUT: ClassVar[Layout] = Layout(
        fixed=(
            Fixed("sc_renewal_policy", 1, FLAG_YN),
            Fixed("no_block", 1, FLAG_YN),
            TRANSACTION_DATE,
            Fixed("nb_due_date", 18, DATE_BLANK_OK),
        ),
        variable=(
            INSTITUTION_ID,
            PATRON_IDENTIFIER,
            ITEM_IDENTIFIER,
            TERMINAL_PASSWORD,
            ITEM_PROPERTIES,
            PATRON_PASSWORD_OPT,
            FEE_ACKNOWLEDGED,
            CANCEL,
        ),
    )

    sc_renewal_policy: bool = False
    no_block: bool = False
    transaction_date: datetime | None
    nb_due_date: datetime | None = None
    institution_id: str = ""
    patron_identifier: str
    item_identifier: str
    terminal_password: str = ""
    item_properties: str | None = None
    patron_password: str | None = None
    fee_acknowledged: bool | None = None
    cancel: bool | None = None


_CHECKOUT_RESPONSE_LAYOUT = Layout(
    fixed=(
        OK,
        Fixed("renewal_ok", 1, FLAG_YN),
        Fixed("magnetic_media", 1, FLAG_YNU),
        Fixed("desensitize", 1, FLAG_YNU),
        TRANSACTION_DATE,
    ),
    variable=(
        INSTITUTION_ID,
        PATRON_IDENTIFIER,
        ITEM_IDENTIFIER,
        Var("AJ", "title_identifier", TEXT, LENIENT),
        Var("AH", "due_date", TEXT, LENIENT),
        FEE_TYPE,
        SECURITY_INHIBIT,
        CURRENCY_TYPE,
        FEE_AMOUNT,
        MEDIA_TYPE,
        ITEM_PROPERTIES,
        TRANSACTION_ID,
        SCREEN_MESSAGE,
        PRINT_LINE,
    ),
)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class _CirculationResponse(Message):
    """The fields of 12 and 30, which share one layout (reference 7.15). Not a message itself."""

    LAYOUT: ClassVar[Layout] = _CHECKOUT_RESPONSE_LAYOUT

    ok: bool
    renewal_ok: bool = False
    magnetic_media: bool | None = None
    desensitize: bool | None = None
    transaction_date: datetime | None
    institution_id: str
    patron_identifier: str
    item_identifier: str
    title_identifier: str = ""
    due_date: str = ""
    fee_type: str | None = None
    security_inhibit: bool | None = None
    currency_type: str | None = None
    fee_amount: str | None = None
    media_type: str | None = None
    item_properties: str | None = None
    transaction_id: str | None = None
    screen_message: tuple[str, ...] = ()
    print_line: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class CheckoutResponse(_CirculationResponse):
    """12 Checkout Response (ACS -> SC). ``due_date`` is free text (reference 4.1, P22)."""

    MESSAGE_ID: ClassVar[str] = "12"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class RenewRequest(Message):
    """29 Renew (SC -> ACS). Either ``item_identifier`` or ``title_identifier`` should be set."""

    MESSAGE_ID: ClassVar[str] = "29"
    LAYOUT: ClassVar[Layout] = Layout(
        fixed=(
            Fixed("third_party_allowed", 1, FLAG_YN),
            Fixed("no_block", 1, FLAG_YN),
            TRANSACTION_DATE,
            Fixed("nb_due_date", 18, DATE_BLANK_OK),
        ),
        variable=(
            INSTITUTION_ID,
            PATRON_IDENTIFIER,
            PATRON_PASSWORD_OPT,
            Var("AB", "item_identifier", TEXT),
            Var("AJ", "title_identifier", TEXT),
            TERMINAL_PASSWORD_OPT,
            ITEM_PROPERTIES,
            FEE_ACKNOWLEDGED,
        ),
    )

    third_party_allowed: bool = False
    no_block: bool = False
    transaction_date: datetime | None
    nb_due_date: datetime | None = None
    institution_id: str = ""
    patron_identifier: str
    patron_password: str | None = None
    item_identifier: str | None = None
    title_identifier: str | None = None
    terminal_password: str | None = None
    item_properties: str | None = None
    fee_acknowledged: bool | None = None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class RenewResponse(_CirculationResponse):
    """30 Renew Response (ACS -> SC): the layout of 12."""

    MESSAGE_ID: ClassVar[str] = "30"


# --- 09 / 10 Checkin ----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class CheckinRequest(Message):
    """09 Checkin (SC -> ACS). ``cancel=True`` undoes a checkout that failed at the SC."""

    MESSAGE_ID: ClassVar[str] = "09"
    LAYOUT: ClassVar[Layout] = Layout(
        fixed=(
            Fixed("no_block", 1, FLAG_YN),
            TRANSACTION_DATE,
            Fixed("return_date", 18, DATE_BLANK_OK),
        ),
        variable=(
            Var("AP", "current_location", TEXT, LENIENT),
            INSTITUTION_ID,
            ITEM_IDENTIFIER,
            TERMINAL_PASSWORD,
            ITEM_PROPERTIES,
            CANCEL,
        ),
    )

    no_block: bool = False
    transaction_date: datetime | None
    return_date: datetime | None = None
    current_location: str = ""
    institution_id: str = ""
    item_identifier: str
    terminal_password: str = ""
    item_properties: str | None = None
    cancel: bool | None = None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class CheckinResponse(Message):
    """10 Checkin Response (ACS -> SC), with the sorter extensions CR CS CT CY DA CV (ref. 8)."""

    MESSAGE_ID: ClassVar[str] = "10"
    LAYOUT: ClassVar[Layout] = Layout(
        fixed=(
            OK,
            Fixed("resensitize", 1, FLAG_YN),
            Fixed("magnetic_media", 1, FLAG_YNU),
            Fixed("alert", 1, FLAG_YN),
            TRANSACTION_DATE,
        ),
        variable=(
            INSTITUTION_ID,
            ITEM_IDENTIFIER,
            Var("AQ", "permanent_location", TEXT, LENIENT),
            TITLE_IDENTIFIER,
            Var("CL", "sort_bin", TEXT),
            Var("AA", "patron_identifier", TEXT),
            MEDIA_TYPE,
            ITEM_PROPERTIES,
            # Extensions sit before AF/AG, where Koha and Evergreen put them (example E25).
            Var("CR", "collection_code", TEXT),
            CALL_NUMBER,
            DESTINATION_LOCATION,
            Var("CY", "hold_patron_id", TEXT),
            Var("DA", "hold_patron_name", TEXT),
            Var("CV", "alert_type", TEXT),
            SCREEN_MESSAGE,
            PRINT_LINE,
        ),
    )

    ok: bool
    resensitize: bool = False
    magnetic_media: bool | None = None
    alert: bool = False
    transaction_date: datetime | None
    institution_id: str
    item_identifier: str
    permanent_location: str
    title_identifier: str | None = None
    sort_bin: str | None = None
    patron_identifier: str | None = None
    media_type: str | None = None
    item_properties: str | None = None
    collection_code: str | None = None
    call_number: str | None = None
    destination_location: str | None = None
    hold_patron_id: str | None = None
    hold_patron_name: str | None = None
    alert_type: str | None = None
    screen_message: tuple[str, ...] = ()
    print_line: tuple[str, ...] = ()


# --- 17 / 18 Item Information, 19 / 20 Item Status Update ---------------------------------------


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class ItemInformationRequest(Message):
    """17 Item Information (SC -> ACS)."""

    MESSAGE_ID: ClassVar[str] = "17"
    LAYOUT: ClassVar[Layout] = Layout(
        fixed=(TRANSACTION_DATE,),
        variable=(INSTITUTION_ID, ITEM_IDENTIFIER, TERMINAL_PASSWORD_OPT),
    )

    transaction_date: datetime | None
    institution_id: str = ""
    item_identifier: str
    terminal_password: str | None = None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class ItemInformationResponse(Message):
    """18 Item Information Response (ACS -> SC). No AO in this message."""

    MESSAGE_ID: ClassVar[str] = "18"
    LAYOUT: ClassVar[Layout] = Layout(
        fixed=(
            Fixed("circulation_status", 2, DIGITS),
            Fixed("security_marker", 2, DIGITS),
            Fixed("fee_type", 2, DIGITS),
            TRANSACTION_DATE,
        ),
        variable=(
            Var("CF", "hold_queue_length", NUMBER),
            DUE_DATE,
            Var("CJ", "recall_date", DATE),
            Var("CM", "hold_pickup_date", DATE),
            ITEM_IDENTIFIER,
            Var("AJ", "title_identifier", TEXT, LENIENT),
            Var("BG", "owner", TEXT),
            CURRENCY_TYPE,
            FEE_AMOUNT,
            MEDIA_TYPE,
            PERMANENT_LOCATION,
            CURRENT_LOCATION,
            ITEM_PROPERTIES,
            CALL_NUMBER,
            DESTINATION_LOCATION,
            SCREEN_MESSAGE,
            PRINT_LINE,
        ),
    )

    circulation_status: str = "01"
    security_marker: str = "00"
    fee_type: str = "01"
    transaction_date: datetime | None
    hold_queue_length: int | None = None
    due_date: str | None = None
    recall_date: datetime | None = None
    hold_pickup_date: datetime | None = None
    item_identifier: str
    title_identifier: str
    owner: str | None = None
    currency_type: str | None = None
    fee_amount: str | None = None
    media_type: str | None = None
    permanent_location: str | None = None
    current_location: str | None = None
    item_properties: str | None = None
    call_number: str | None = None
    destination_location: str | None = None
    screen_message: tuple[str, ...] = ()
    print_line: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class ItemStatusUpdateRequest(Message):
    """19 Item Status Update (SC -> ACS): store ``item_properties`` on the item."""

    MESSAGE_ID: ClassVar[str] = "19"
    LAYOUT: ClassVar[Layout] = Layout(
        fixed=(TRANSACTION_DATE,),
        variable=(
            INSTITUTION_ID,
            ITEM_IDENTIFIER,
            TERMINAL_PASSWORD_OPT,
            Var("CH", "item_properties", TEXT, LENIENT),
        ),
    )

    transaction_date: datetime | None
    institution_id: str = ""
    item_identifier: str
    terminal_password: str | None = None
    item_properties: str = ""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class ItemStatusUpdateResponse(Message):
    """20 Item Status Update Response (ACS -> SC). No AO in this message."""

    MESSAGE_ID: ClassVar[str] = "20"
    LAYOUT: ClassVar[Layout] = Layout(
        fixed=(Fixed("item_properties_ok", 1, FLAG_OK), TRANSACTION_DATE),
        variable=(ITEM_IDENTIFIER, TITLE_IDENTIFIER, ITEM_PROPERTIES, SCREEN_MESSAGE, PRINT_LINE),
    )

    item_properties_ok: bool
    transaction_date: datetime | None
    item_identifier: str
    title_identifier: str | None = None
    item_properties: str | None = None
    screen_message: tuple[str, ...] = ()
    print_line: tuple[str, ...] = ()


# --- 25 / 26 Patron Enable, 35 / 36 End Session -------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class _PatronRequest(Message):
    """The fields of 25 and 35, which share one layout (reference 7.11, 7.12). Not a message."""

    LAYOUT: ClassVar[Layout] = Layout(
        fixed=(TRANSACTION_DATE,),
        variable=(INSTITUTION_ID, PATRON_IDENTIFIER, TERMINAL_PASSWORD_OPT, PATRON_PASSWORD_OPT),
    )

    transaction_date: datetime | None
    institution_id: str = ""
    patron_identifier: str
    terminal_password: str | None = None
    patron_password: str | None = None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class PatronEnableRequest(_PatronRequest):
    """25 Patron Enable (SC -> ACS)."""

    MESSAGE_ID: ClassVar[str] = "25"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class PatronEnableResponse(Message):
    """26 Patron Enable Response (ACS -> SC): the fixed layout of 24."""

    MESSAGE_ID: ClassVar[str] = "26"
    LAYOUT: ClassVar[Layout] = Layout(
        fixed=(PATRON_STATUS_FIELD, LANGUAGE, TRANSACTION_DATE),
        variable=(
            INSTITUTION_ID,
            PATRON_IDENTIFIER,
            PERSONAL_NAME,
            VALID_PATRON,
            VALID_PATRON_PASSWORD,
            SCREEN_MESSAGE,
            PRINT_LINE,
        ),
    )

    patron_status: PatronStatus = _GOOD_STANDING
    language: str = "000"
    transaction_date: datetime | None
    institution_id: str
    patron_identifier: str
    personal_name: str
    valid_patron: bool | None = None
    valid_patron_password: bool | None = None
    screen_message: tuple[str, ...] = ()
    print_line: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class EndPatronSessionRequest(_PatronRequest):
    """35 End Patron Session (SC -> ACS)."""

    MESSAGE_ID: ClassVar[str] = "35"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class EndSessionResponse(Message):
    """36 End Session Response (ACS -> SC). ``end_session`` is Y/N on the wire, not 0/1."""

    MESSAGE_ID: ClassVar[str] = "36"
    LAYOUT: ClassVar[Layout] = Layout(
        fixed=(Fixed("end_session", 1, FLAG_YN), TRANSACTION_DATE),
        variable=(INSTITUTION_ID, PATRON_IDENTIFIER, SCREEN_MESSAGE, PRINT_LINE),
    )

    end_session: bool
    transaction_date: datetime | None
    institution_id: str
    patron_identifier: str
    screen_message: tuple[str, ...] = ()
    print_line: tuple[str, ...] = ()


# --- 37 / 38 Fee Paid ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class FeePaidRequest(Message):
    """37 Fee Paid (SC -> ACS). ``fee_amount`` is decimal text such as ``"2.50"``."""

    MESSAGE_ID: ClassVar[str] = "37"
    LAYOUT: ClassVar[Layout] = Layout(
        fixed=(
            TRANSACTION_DATE,
            Fixed("fee_type", 2, DIGITS),
            Fixed("payment_type", 2, DIGITS),
            Fixed("currency_type", 3, CODE),
        ),
        variable=(
            Var("BV", "fee_amount", TEXT, REQUIRED),
            INSTITUTION_ID,
            PATRON_IDENTIFIER,
            TERMINAL_PASSWORD_OPT,
            PATRON_PASSWORD_OPT,
            Var("CG", "fee_identifier", TEXT),
            TRANSACTION_ID,
        ),
        exact=True,
    )

    transaction_date: datetime | None
    fee_type: str = "01"
    payment_type: str = "00"
    currency_type: str = "USD"
    fee_amount: str
    institution_id: str = ""
    patron_identifier: str
    terminal_password: str | None = None
    patron_password: str | None = None
    fee_identifier: str | None = None
    transaction_id: str | None = None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class FeePaidResponse(Message):
    """38 Fee Paid Response (ACS -> SC). ``payment_accepted`` precedes the date on the wire."""

    MESSAGE_ID: ClassVar[str] = "38"
    LAYOUT: ClassVar[Layout] = Layout(
        fixed=(Fixed("payment_accepted", 1, FLAG_YN), TRANSACTION_DATE),
        variable=(
            INSTITUTION_ID,
            PATRON_IDENTIFIER,
            TRANSACTION_ID,
            SCREEN_MESSAGE,
            PRINT_LINE,
        ),
    )

    payment_accepted: bool
    transaction_date: datetime | None
    institution_id: str
    patron_identifier: str
    transaction_id: str | None = None
    screen_message: tuple[str, ...] = ()
    print_line: tuple[str, ...] = ()


# --- 15 / 16 Hold -------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class HoldRequest(Message):
    """15 Hold (SC -> ACS). ``hold_mode`` is ``+`` add, ``-`` delete, ``*`` change."""

    MESSAGE_ID: ClassVar[str] = "15"
    LAYOUT: ClassVar[Layout] = Layout(
        fixed=(Fixed("hold_mode", 1, CODE), TRANSACTION_DATE),
        variable=(
            Var("BW", "expiration_date", DATE),
            Var("BS", "pickup_location", TEXT),
            Var("BY", "hold_type", TEXT),
            INSTITUTION_ID,
            PATRON_IDENTIFIER,
            PATRON_PASSWORD_OPT,
            Var("AB", "item_identifier", TEXT),
            TITLE_IDENTIFIER,
            TERMINAL_PASSWORD_OPT,
            FEE_ACKNOWLEDGED,
        ),
    )

    hold_mode: str = "+"
    transaction_date: datetime | None
    expiration_date: datetime | None = None
    pickup_location: str | None = None
    hold_type: str | None = None
    institution_id: str = ""
    patron_identifier: str
    patron_password: str | None = None
    item_identifier: str | None = None
    title_identifier: str | None = None
    terminal_password: str | None = None
    fee_acknowledged: bool | None = None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class HoldResponse(Message):
    """16 Hold Response (ACS -> SC)."""

    MESSAGE_ID: ClassVar[str] = "16"
    LAYOUT: ClassVar[Layout] = Layout(
        fixed=(OK, Fixed("available", 1, FLAG_YN), TRANSACTION_DATE),
        variable=(
            Var("BW", "expiration_date", DATE),
            Var("BR", "queue_position", NUMBER),
            Var("BS", "pickup_location", TEXT),
            INSTITUTION_ID,
            PATRON_IDENTIFIER,
            Var("AB", "item_identifier", TEXT),
            TITLE_IDENTIFIER,
            SCREEN_MESSAGE,
            PRINT_LINE,
        ),
    )

    ok: bool
    available: bool = False
    transaction_date: datetime | None
    expiration_date: datetime | None = None
    queue_position: int | None = None
    pickup_location: str | None = None
    institution_id: str
    patron_identifier: str
    item_identifier: str | None = None
    title_identifier: str | None = None
    screen_message: tuple[str, ...] = ()
    print_line: tuple[str, ...] = ()


# --- 65 / 66 Renew All --------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class RenewAllRequest(Message):
    """65 Renew All (SC -> ACS)."""

    MESSAGE_ID: ClassVar[str] = "65"
    LAYOUT: ClassVar[Layout] = Layout(
        fixed=(TRANSACTION_DATE,),
        variable=(
            INSTITUTION_ID,
            PATRON_IDENTIFIER,
            PATRON_PASSWORD_OPT,
            TERMINAL_PASSWORD_OPT,
            FEE_ACKNOWLEDGED,
        ),
    )

    transaction_date: datetime | None
    institution_id: str = ""
    patron_identifier: str
    patron_password: str | None = None
    terminal_password: str | None = None
    fee_acknowledged: bool | None = None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class RenewAllResponse(Message):
    """66 Renew All Response (ACS -> SC)."""

    MESSAGE_ID: ClassVar[str] = "66"
    LAYOUT: ClassVar[Layout] = Layout(
        fixed=(
            OK,
            Fixed("renewed_count", 4, COUNT),
            Fixed("unrenewed_count", 4, COUNT),
            TRANSACTION_DATE,
        ),
        variable=(
            INSTITUTION_ID,
            _list_field("BM", "renewed_items"),
            _list_field("BN", "unrenewed_items"),
            SCREEN_MESSAGE,
            PRINT_LINE,
        ),
    )

    ok: bool
    renewed_count: int | None = 0
    unrenewed_count: int | None = 0
    transaction_date: datetime | None
    institution_id: str
    renewed_items: tuple[str, ...] = ()
    unrenewed_items: tuple[str, ...] = ()
    screen_message: tuple[str, ...] = ()
    print_line: tuple[str, ...] = ()


MESSAGE_CLASSES: tuple[type[Message], ...] = (
    LoginRequest,
    LoginResponse,
    SCStatus,
    ACSStatus,
    RequestACSResend,
    RequestSCResend,
    PatronStatusRequest,
    PatronStatusResponse,
    BlockPatron,
    PatronInformationRequest,
    PatronInformationResponse,
    CheckoutRequest,
    CheckoutResponse,
    CheckinRequest,
    CheckinResponse,
    ItemInformationRequest,
    ItemInformationResponse,
    ItemStatusUpdateRequest,
    ItemStatusUpdateResponse,
    PatronEnableRequest,
    PatronEnableResponse,
    EndPatronSessionRequest,
    EndSessionResponse,
    FeePaidRequest,
    FeePaidResponse,
    HoldRequest,
    HoldResponse,
    RenewRequest,
    RenewResponse,
    RenewAllRequest,
    RenewAllResponse,
)

MESSAGE_TYPES: Mapping[str, type[Message]] = MappingProxyType(
    {cls.MESSAGE_ID: cls for cls in MESSAGE_CLASSES}
)


def _check_tables() -> None:
    """Import-time guard: every dataclass field is in the table exactly once and vice versa."""
    for cls in MESSAGE_CLASSES:
        declared = [f.attr for f in cls.LAYOUT.fixed] + [v.attr for v in cls.LAYOUT.variable]
        fields = [f.name for f in dataclasses.fields(cls) if f.name != "extra"]
        if sorted(declared) != sorted(fields) or len(set(declared)) != len(declared):
            raise AssertionError(f"{cls.__name__}: LAYOUT does not match its fields")
        codes = [v.code for v in cls.LAYOUT.variable]
        if len(set(codes)) != len(codes):
            raise AssertionError(f"{cls.__name__}: duplicate field code")


_check_tables()
