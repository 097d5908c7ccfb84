"""The server checks, in report order. ``SERVER_CHECKS`` is the whole suite as data."""

from __future__ import annotations

from conformance.checks import (
    changes,
    detection,
    framing,
    lockout,
    messages,
    patron_info,
    refusals,
    review,
    session,
    wrong_pins,
)
from conformance.model import Check

SERVER_CHECKS: tuple[Check, ...] = (
    *session.CHECKS,
    review.terminators,
    *framing.CHECKS,
    review.sequence_echoed,
    review.checksums_verify,
    review.checksums_canonical,
    *detection.CHECKS,
    *messages.CHECKS,
    *refusals.CHECKS,
    *patron_info.CHECKS,
    *changes.CHECKS,
    *wrong_pins.CHECKS,
    *lockout.CHECKS,
    *review.FORMAT_CHECKS,
    review.field_order,
    review.no_institution,
)


def by_id() -> dict[str, Check]:
    return {c.id: c for c in SERVER_CHECKS}
