"""Well-formed requests built from the profile, as a correctly configured kiosk would send them.

Each builder fills every field a real kiosk fills (AO from the profile, AC empty or the
profile's terminal password, AD when a PIN is known, 18 blank characters for an on-line
``nb due date``), so a failure means the server, not the request, is at fault.

:func:`harmless_request` gives, for every request id, a message that the server must answer
with its response type but that changes nothing on a real library system: requests that would
change data (checkout, block, fee paid, ...) name the profile's *invalid* patron or item, so
the answer is the refusal form. The data-changing checks build their own requests and are only
run with ``--allow-changes``.
"""

from __future__ import annotations

from datetime import datetime

from conformance.profile import Profile
from sip2d.protocol import (
    BlockPatron,
    CheckinRequest,
    CheckoutRequest,
    EndPatronSessionRequest,
    FeePaidRequest,
    HoldRequest,
    ItemInformationRequest,
    ItemStatusUpdateRequest,
    LoginRequest,
    Message,
    PatronEnableRequest,
    PatronInformationRequest,
    PatronStatusRequest,
    RenewAllRequest,
    RenewRequest,
    SCStatus,
    Summary,
)

# Request id -> the response ids that answer it (01 Block Patron is answered by a 24).
RESPONSE_IDS: dict[str, str] = {
    "93": "94",
    "99": "98",
    "23": "24",
    "63": "64",
    "11": "12",
    "09": "10",
    "17": "18",
    "19": "20",
    "25": "26",
    "35": "36",
    "37": "38",
    "15": "16",
    "29": "30",
    "65": "66",
    "01": "24",
}


def now() -> datetime:
    return datetime.now().replace(microsecond=0)


def _pin(pin: str | None) -> str:
    return pin if pin is not None else ""


def login(profile: Profile, *, password: str | None = None, algorithms: str = "00") -> LoginRequest:
    assert profile.login is not None
    return LoginRequest(
        uid_algorithm=algorithms[0],
        pwd_algorithm=algorithms[1],
        login_user_id=profile.login.user,
        login_password=profile.login.password.reveal() if password is None else password,
        location_code=profile.login.location or None,
    )


def sc_status() -> SCStatus:
    return SCStatus(status_code="0", max_print_width=40, protocol_version="2.00")


def patron_status(profile: Profile, barcode: str, pin: str | None = None) -> PatronStatusRequest:
    return PatronStatusRequest(
        language="000",
        transaction_date=now(),
        institution_id=profile.institution_id,
        patron_identifier=barcode,
        terminal_password=profile.terminal_password.reveal(),
        patron_password=_pin(pin),
    )


def patron_information(
    profile: Profile,
    barcode: str,
    pin: str | None = None,
    *,
    summary: Summary | None = None,
    start: int | None = None,
    end: int | None = None,
) -> PatronInformationRequest:
    return PatronInformationRequest(
        language="000",
        transaction_date=now(),
        summary=summary or Summary(),
        institution_id=profile.institution_id,
        patron_identifier=barcode,
        terminal_password=profile.terminal_password.reveal(),
        patron_password=pin,
        start_item=start,
        end_item=end,
    )


def checkout(profile: Profile, patron: str, item: str, pin: str | None = None) -> CheckoutRequest:
    return CheckoutRequest(
        sc_renewal_policy=False,
        no_block=False,
        transaction_date=now(),
        nb_due_date=None,
        institution_id=profile.institution_id,
        patron_identifier=patron,
        item_identifier=item,
        terminal_password=profile.terminal_password.reveal(),
        patron_password=pin,
    )


def checkin(profile: Profile, item: str, *, return_date: datetime | None = None) -> CheckinRequest:
    when = now()
    return CheckinRequest(
        no_block=False,
        transaction_date=when,
        return_date=when if return_date is None else return_date,
        current_location=profile.login.location if profile.login else "",
        institution_id=profile.institution_id,
        item_identifier=item,
        terminal_password=profile.terminal_password.reveal(),
    )


def item_information(profile: Profile, item: str) -> ItemInformationRequest:
    return ItemInformationRequest(
        transaction_date=now(),
        institution_id=profile.institution_id,
        item_identifier=item,
        terminal_password=profile.terminal_password.reveal(),
    )


def end_session(profile: Profile, barcode: str, pin: str | None = None) -> EndPatronSessionRequest:
    return EndPatronSessionRequest(
        transaction_date=now(),
        institution_id=profile.institution_id,
        patron_identifier=barcode,
        terminal_password=profile.terminal_password.reveal(),
        patron_password=pin,
    )


def renew(profile: Profile, patron: str, item: str, pin: str | None = None) -> RenewRequest:
    return RenewRequest(
        third_party_allowed=False,
        no_block=False,
        transaction_date=now(),
        nb_due_date=None,
        institution_id=profile.institution_id,
        patron_identifier=patron,
        patron_password=pin,
        item_identifier=item,
        terminal_password=profile.terminal_password.reveal(),
    )


def hold(
    profile: Profile, patron: str, item: str, mode: str = "+", pin: str | None = None
) -> HoldRequest:
    return HoldRequest(
        hold_mode=mode,
        transaction_date=now(),
        institution_id=profile.institution_id,
        patron_identifier=patron,
        patron_password=pin,
        item_identifier=item,
        terminal_password=profile.terminal_password.reveal(),
    )


def renew_all(profile: Profile, patron: str, pin: str | None = None) -> RenewAllRequest:
    return RenewAllRequest(
        transaction_date=now(),
        institution_id=profile.institution_id,
        patron_identifier=patron,
        patron_password=pin,
        terminal_password=profile.terminal_password.reveal(),
    )


def fee_paid(
    profile: Profile, patron: str, pin: str | None = None, amount: str = "0.01"
) -> FeePaidRequest:
    return FeePaidRequest(
        transaction_date=now(),
        fee_type="01",
        payment_type="00",
        currency_type="USD",
        fee_amount=amount,
        institution_id=profile.institution_id,
        patron_identifier=patron,
        terminal_password=profile.terminal_password.reveal(),
        patron_password=pin,
    )


def block_patron(profile: Profile, patron: str, message: str) -> BlockPatron:
    return BlockPatron(
        card_retained=False,
        transaction_date=now(),
        institution_id=profile.institution_id,
        blocked_card_msg=message,
        patron_identifier=patron,
        terminal_password=profile.terminal_password.reveal(),
    )


def patron_enable(profile: Profile, patron: str, pin: str | None = None) -> PatronEnableRequest:
    return PatronEnableRequest(
        transaction_date=now(),
        institution_id=profile.institution_id,
        patron_identifier=patron,
        terminal_password=profile.terminal_password.reveal(),
        patron_password=pin,
    )


def harmless_request(profile: Profile, message_id: str) -> Message:
    """A request of type ``message_id`` that leaves a real library's data unchanged."""
    valid = profile.patron.barcode if profile.patron else profile.invalid_patron
    pin = profile.patron.pin.reveal() if profile.patron and profile.patron.pin else None
    invalid = profile.invalid_patron
    item = profile.item or profile.invalid_item
    no_item = profile.invalid_item
    terminal = profile.terminal_password.reveal()
    if message_id == "93":
        return login(profile)
    if message_id == "99":
        return sc_status()
    if message_id == "23":
        return patron_status(profile, valid, pin)
    if message_id == "63":
        return patron_information(profile, valid, pin)
    if message_id == "17":
        return item_information(profile, item)
    if message_id == "35":
        return end_session(profile, valid, pin)
    if message_id == "11":
        return checkout(profile, invalid, item)
    if message_id == "09":
        return checkin(profile, no_item)
    if message_id == "29":
        return renew(profile, invalid, item)
    if message_id == "15":
        return hold(profile, invalid, item)
    if message_id == "65":
        return renew_all(profile, invalid)
    if message_id == "37":
        return fee_paid(profile, invalid)
    if message_id == "01":
        return block_patron(profile, invalid, "conformance test: unknown card")
    if message_id == "25":
        return patron_enable(profile, invalid)
    if message_id == "19":
        return ItemStatusUpdateRequest(
            transaction_date=now(),
            institution_id=profile.institution_id,
            item_identifier=no_item,
            terminal_password=terminal,
            item_properties="conformance test",
        )
    raise ValueError(f"no harmless request for message id {message_id}")
