"""Scenario plans: valid frames, sequence numbers that never repeat back to back, no sharing."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sip2d.bench.dataset import Dataset, item_barcode, patron_barcode, patron_pin
from sip2d.bench.scenarios import (
    MARK_LOAN,
    MARK_SESSION_END,
    SCENARIOS,
    Credentials,
    KioskPlan,
    ScenarioError,
    plan_kiosk,
)
from sip2d.protocol import (
    CheckinRequest,
    CheckoutRequest,
    LoginRequest,
    PatronStatusRequest,
    decode,
    verify_checksum,
)

LOGIN = Credentials("bench", "kiosk-secret")


def plan(name: str, kiosk: int = 0, kiosks: int = 4, dataset: Dataset | None = None) -> KioskPlan:
    return plan_kiosk(
        SCENARIOS[name], dataset or Dataset(200, 400), kiosk, kiosks, credentials=LOGIN
    )


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_every_frame_decodes_and_carries_a_valid_checksum(name: str) -> None:
    p = plan(name)
    steps = [p.login, *p.warmup, *p.ring]
    for step in steps:
        assert step is not None
        assert step.frame.endswith(b"\r")
        assert verify_checksum(step.frame.rstrip(b"\r"))
        received = decode(step.frame.rstrip(b"\r"), strict=True)
        assert step.label == received.message.MESSAGE_ID


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_consecutive_requests_never_share_a_sequence_number(name: str) -> None:
    p = plan(name)
    assert len(p.ring) % 10 == 0
    sent = [p.login, *p.warmup, *p.ring, *p.ring[:1]]  # the ring wraps to its start
    sequences: list[int] = []
    for step in sent:
        assert step is not None
        trailer = decode(step.frame.rstrip(b"\r")).trailer
        assert trailer is not None and trailer.sequence is not None
        sequences.append(trailer.sequence)
    for before, after in itertools.pairwise(sequences):
        assert after == (before + 1) % 10


def test_login_frame_carries_the_credentials_and_no_repr_shows_the_password() -> None:
    p = plan("keepalive")
    assert p.login is not None
    message = decode(p.login.frame.rstrip(b"\r")).message
    assert isinstance(message, LoginRequest)
    assert (message.login_user_id, message.login_password) == ("bench", "kiosk-secret")
    assert "kiosk-secret" not in repr(LOGIN)


def test_patron_pin_sends_each_patrons_own_pin_and_changes_patron_every_time() -> None:
    p = plan("patron-pin", kiosk=1, kiosks=3)
    barcodes = []
    for step in p.ring:
        message = decode(step.frame.rstrip(b"\r")).message
        assert isinstance(message, PatronStatusRequest)
        index = int(message.patron_identifier) - int(patron_barcode(0))
        assert index % 3 == 1  # only this kiosk's patrons
        assert message.patron_password == patron_pin(index)
        barcodes.append(message.patron_identifier)
    for before, after in zip(barcodes, barcodes[1:] + barcodes[:1], strict=True):
        assert before != after


def test_session_lends_and_returns_the_same_items_and_warms_them_up() -> None:
    p = plan("session")
    messages = [decode(s.frame.rstrip(b"\r")).message for s in p.ring]
    lent = [m.item_identifier for m in messages if isinstance(m, CheckoutRequest)]
    returned = [m.item_identifier for m in messages if isinstance(m, CheckinRequest)]
    assert sorted(lent) == sorted(returned)
    warmed = {decode(s.frame.rstrip(b"\r")).message.item_identifier for s in p.warmup}  # type: ignore[attr-defined]
    assert set(lent) <= warmed
    assert sum(s.mark == MARK_LOAN for s in p.ring) == len(lent)
    assert sum(s.mark == MARK_SESSION_END for s in p.ring) == sum(s.label == "23" for s in p.ring)
    # A kiosk may only stop between patron sessions.
    assert [s.label for s in p.ring if s.boundary] == ["23"] * (len(p.ring) // 9)


@given(st.integers(min_value=1, max_value=40), st.integers(min_value=0, max_value=500))
def test_kiosks_never_share_an_item_or_a_patron(kiosks: int, extra: int) -> None:
    dataset = Dataset(patrons=kiosks + extra, items=3 * kiosks + extra)
    seen_items: set[int] = set()
    seen_patrons: set[int] = set()
    for kiosk in range(kiosks):
        items = set(dataset.items_of(kiosk, kiosks, 30))
        patrons = set(dataset.patrons_of(kiosk, kiosks, 100))
        assert items and patrons
        assert not items & seen_items
        assert not patrons & seen_patrons
        assert all(0 <= i < dataset.items for i in items)
        assert all(0 <= p < dataset.patrons for p in patrons)
        seen_items |= items
        seen_patrons |= patrons


def test_too_small_a_library_is_refused_with_the_size_needed() -> None:
    with pytest.raises(ScenarioError, match="at least 12 items"):
        plan("session", kiosks=4, dataset=Dataset(100, 8))
    with pytest.raises(ScenarioError, match="at least 8 patrons"):
        plan("patron-pin", kiosk=3, kiosks=4, dataset=Dataset(7, 100))


def test_barcodes_are_distinct_and_in_order() -> None:
    patrons = [patron_barcode(i) for i in range(1000)]
    items = [item_barcode(i) for i in range(1000)]
    assert patrons == sorted(set(patrons))
    assert items == sorted(set(items))
    assert not set(patrons) & set(items)
