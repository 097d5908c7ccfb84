"""What the robustness tests (issue #15) share: reading the daemon's log, building requests.

The log is read the way an operator's collector reads it, as JSON lines; "no traceback" means
no line carries an exception (``exc``) and no text says ``Traceback``.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

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
)
from tests.server.conftest import ALICE, ITEMS, KIOSK


def log_entries(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def assert_no_traceback(text: str) -> None:
    assert "Traceback" not in text
    assert not [entry for entry in log_entries(text) if "exc" in entry]


def count_level(text: str, level: str) -> int:
    return sum(entry["level"] == level for entry in log_entries(text))


# One valid request of every type a kiosk sends (97 aside), with what the layout requires.
_BASE: dict[type[Message], dict[str, Any]] = {
    LoginRequest: dict(login_user_id=KIOSK[0], login_password=KIOSK[1]),
    SCStatus: {},
    PatronStatusRequest: dict(patron_identifier=ALICE[0], patron_password=ALICE[1]),
    BlockPatron: dict(patron_identifier=ALICE[0], blocked_card_msg="lost"),
    PatronInformationRequest: dict(patron_identifier=ALICE[0], patron_password=ALICE[1]),
    CheckoutRequest: dict(
        patron_identifier=ALICE[0], item_identifier=ITEMS[0], patron_password=ALICE[1]
    ),
    CheckinRequest: dict(item_identifier=ITEMS[0], current_location="BRANCH1"),
    ItemInformationRequest: dict(item_identifier=ITEMS[0]),
    ItemStatusUpdateRequest: dict(item_identifier=ITEMS[0], item_properties="shelf 4"),
    PatronEnableRequest: dict(patron_identifier=ALICE[0], patron_password=ALICE[1]),
    EndPatronSessionRequest: dict(patron_identifier=ALICE[0]),
    FeePaidRequest: dict(
        patron_identifier=ALICE[0], fee_amount="1.00", fee_identifier="F1", transaction_id="T1"
    ),
    HoldRequest: dict(
        hold_mode="+",
        patron_identifier=ALICE[0],
        patron_password=ALICE[1],
        item_identifier=ITEMS[1],
        pickup_location="BRANCH1",
        hold_type="2",
        title_identifier="Title",
    ),
    RenewRequest: dict(
        patron_identifier=ALICE[0], item_identifier=ITEMS[0], patron_password=ALICE[1]
    ),
    RenewAllRequest: dict(patron_identifier=ALICE[0], patron_password=ALICE[1]),
}
REQUEST_TYPES = tuple(_BASE)


def request(cls: type[Message], **changes: Any) -> Message:
    """A valid ``cls`` request, with ``changes`` applied."""
    fields = {f.name for f in dataclasses.fields(cls)}
    values = dict(_BASE[cls])
    if "transaction_date" in fields:
        values["transaction_date"] = None
    values.update(changes)
    return cls(**values)
