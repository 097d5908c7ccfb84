"""The refusal form of every response type (reference 9.2, 9.3).

A kiosk waits for the response type that matches its request; anything else (silence, a 96, a
line of text) makes it retry until its timeout. So whenever sip2d will not or cannot do what
was asked (not logged in, not permitted, database down, malformed request), it answers with
the matching response in its refusal form: ok/valid flags off, required fields present (empty
where unknown), and a screen message saying why.

Keyed by request id, so a frame that could not even be decoded still gets the right type.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sip2d.protocol import (
    ACSStatus,
    CheckinResponse,
    CheckoutResponse,
    EndSessionResponse,
    FeePaidResponse,
    HoldResponse,
    ItemInformationResponse,
    ItemStatusUpdateResponse,
    LoginResponse,
    Message,
    PatronEnableResponse,
    PatronInformationResponse,
    PatronStatus,
    PatronStatusResponse,
    RenewAllResponse,
    RenewResponse,
    RequestSCResend,
    SupportedMessages,
)


def _patron_status(
    cls: type[Any], when: datetime, institution: str, patron: str, reason: str
) -> Message:
    """24 and 26 share a layout; an unknown or refused patron has the four privileges denied."""
    response: Message = cls(
        patron_status=PatronStatus.unknown_patron(),
        language="000",
        transaction_date=when,
        institution_id=institution,
        patron_identifier=patron,
        personal_name="",
        valid_patron=False,
        screen_message=(reason,),
    )
    return response


def _circulation(
    cls: type[Any], when: datetime, institution: str, patron: str, item: str, reason: str
) -> Message:
    """12 and 30 share a layout: ok 0, renewal N, magnetic media U, desensitize N."""
    response: Message = cls(
        ok=False,
        renewal_ok=False,
        magnetic_media=None,
        desensitize=False,
        transaction_date=when,
        institution_id=institution,
        patron_identifier=patron,
        item_identifier=item,
        title_identifier="",
        due_date="",
        screen_message=(reason,),
    )
    return response


def refusal(
    message_id: str,
    reason: str,
    *,
    when: datetime,
    institution: str,
    patron: str = "",
    item: str = "",
) -> Message:
    """The refusal for request ``message_id``; 96 for ids that have no response of their own."""
    if message_id in ("23", "01"):
        return _patron_status(PatronStatusResponse, when, institution, patron, reason)
    if message_id == "25":
        return _patron_status(PatronEnableResponse, when, institution, patron, reason)
    if message_id == "11":
        return _circulation(CheckoutResponse, when, institution, patron, item, reason)
    if message_id == "29":
        return _circulation(RenewResponse, when, institution, patron, item, reason)
    if message_id == "63":
        return PatronInformationResponse(
            patron_status=PatronStatus.unknown_patron(),
            language="000",
            transaction_date=when,
            hold_items_count=0,
            overdue_items_count=0,
            charged_items_count=0,
            fine_items_count=0,
            recall_items_count=0,
            unavailable_holds_count=0,
            institution_id=institution,
            patron_identifier=patron,
            personal_name="",
            valid_patron=False,
            screen_message=(reason,),
        )
    if message_id == "09":
        return CheckinResponse(
            ok=False,
            resensitize=False,
            magnetic_media=None,
            alert=False,
            transaction_date=when,
            institution_id=institution,
            item_identifier=item,
            permanent_location="",
            screen_message=(reason,),
        )
    if message_id == "17":
        return ItemInformationResponse(
            circulation_status="01",
            security_marker="01",
            fee_type="01",
            transaction_date=when,
            item_identifier=item,
            title_identifier="",
            screen_message=(reason,),
        )
    if message_id == "19":
        return ItemStatusUpdateResponse(
            item_properties_ok=False,
            transaction_date=when,
            item_identifier=item,
            title_identifier="",
            screen_message=(reason,),
        )
    if message_id == "35":
        return EndSessionResponse(
            end_session=False,
            transaction_date=when,
            institution_id=institution,
            patron_identifier=patron,
            screen_message=(reason,),
        )
    if message_id == "37":
        return FeePaidResponse(
            payment_accepted=False,
            transaction_date=when,
            institution_id=institution,
            patron_identifier=patron,
            screen_message=(reason,),
        )
    if message_id == "15":
        return HoldResponse(
            ok=False,
            available=False,
            transaction_date=when,
            institution_id=institution,
            patron_identifier=patron,
            item_identifier=item or None,
            screen_message=(reason,),
        )
    if message_id == "65":
        return RenewAllResponse(
            ok=False,
            renewed_count=0,
            unrenewed_count=0,
            transaction_date=when,
            institution_id=institution,
            screen_message=(reason,),
        )
    if message_id == "93":
        return LoginResponse(ok=False)
    if message_id == "99":
        return offline_status(when, institution, reason)
    return RequestSCResend()


def offline_status(when: datetime, institution: str, reason: str) -> ACSStatus:
    """A 98 that permits nothing: before login on strict ports, or when nothing can be served."""
    return ACSStatus(
        online_status=False,
        checkin_ok=False,
        checkout_ok=False,
        acs_renewal_policy=False,
        status_update_ok=False,
        offline_ok=False,
        timeout_period=0,
        retries_allowed=0,
        date_time_sync=when,
        protocol_version="2.00",
        institution_id=institution,
        supported_messages=SupportedMessages(),
        screen_message=(reason,) if reason else (),
    )
