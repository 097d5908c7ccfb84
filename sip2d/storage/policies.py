"""Which loan rules apply to a checkout.

A ``loan_policies`` row names a media type, a patron profile, both, or neither (NULL matches
anything). The most specific matching row wins: both named, then media type alone, then
profile alone, then the catch-all. Media type outranks profile because a rule such as "DVDs go
out for a week" is about the thing lent and should hold for every kind of patron unless a row
names both. With no matching row at all (a fresh database) :data:`DEFAULT_POLICY` applies, so
circulation works before anyone has written a policy.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    and_,
    bindparam,
    case,
    delete,
    insert,
    or_,
    select,
    update,
)

from sip2d.storage.models import loan_policies
from sip2d.storage.prepared import Prepared
from sip2d.storage.records import LoanPolicyRecord

DEFAULT_POLICY = LoanPolicyRecord(
    id=None,
    media_type=None,
    profile=None,
    loan_days=21,
    renewal_limit=2,
    max_loans=50,
    fine_threshold_cents=1000,
    daily_fine_cents=0,
    max_fine_cents=0,
)

_c = loan_policies.c
_SPECIFICITY = case((_c.media_type.is_not(None), 2), else_=0) + case(
    (_c.profile.is_not(None), 1), else_=0
)


def policy_choice(media_type: ColumnElement[Any], profile: ColumnElement[Any]) -> Select[Any]:
    """The policy rows that apply, most specific first, at most one: the one rule of choice.

    ``media_type`` and ``profile`` are bound values or, inside a larger statement, columns of
    the patron (and item) being looked at; the id breaks ties so every caller picks the same.
    """
    return (
        select(loan_policies)
        .where(
            or_(_c.media_type == media_type, _c.media_type.is_(None)),
            or_(_c.profile == profile, _c.profile.is_(None)),
        )
        .order_by(_SPECIFICITY.desc(), _c.id)
        .limit(1)
    )


# Built once: this runs for every checkout (see queries.py on why).
_RESOLVE = Prepared(
    policy_choice(bindparam("media_type"), bindparam("profile")), record=LoanPolicyRecord
)


def resolve_loan_policy(conn: Connection, media_type: str, profile: str) -> LoanPolicyRecord:
    """The policy for lending an item of ``media_type`` to a patron of ``profile``."""
    found = _RESOLVE.record(conn, {"media_type": media_type, "profile": profile})
    return DEFAULT_POLICY if found is None else found


# --- staff management (`sip2d policy`) ----------------------------------------------------------

# The rule columns staff set; the scope (media type, profile) names the row.
POLICY_RULES = (
    "loan_days",
    "renewal_limit",
    "max_loans",
    "fine_threshold_cents",
    "daily_fine_cents",
    "max_fine_cents",
)


def _scope(media_type: str | None, profile: str | None) -> ColumnElement[bool]:
    return and_(
        _c.media_type.is_(None) if media_type is None else _c.media_type == media_type,
        _c.profile.is_(None) if profile is None else _c.profile == profile,
    )


def list_policies(conn: Connection) -> list[LoanPolicyRecord]:
    """Every policy row, the catch-all first and the most specific last (the order of choice,
    reversed, so a reader sees the general rule before its exceptions)."""
    rows = conn.execute(
        select(loan_policies).order_by(
            _SPECIFICITY, _c.media_type.nulls_first(), _c.profile.nulls_first()
        )
    )
    return [LoanPolicyRecord.from_row(row) for row in rows]


def find_policy(
    conn: Connection, media_type: str | None, profile: str | None
) -> LoanPolicyRecord | None:
    """The row for exactly this scope (not the one that would apply), or None."""
    row = conn.execute(select(loan_policies).where(_scope(media_type, profile))).first()
    return None if row is None else LoanPolicyRecord.from_row(row)


def set_policy(
    conn: Connection, media_type: str | None, profile: str | None, rules: dict[str, int]
) -> tuple[LoanPolicyRecord, bool]:
    """Create the scope's row or change the rules given; True when it was created.

    A new row takes :data:`DEFAULT_POLICY`'s value for every rule not given, so a policy for
    DVDs that names only ``loan_days`` does not silently allow zero renewals.
    """
    unknown = set(rules) - set(POLICY_RULES)
    if unknown:
        raise ValueError(f"not a policy rule: {', '.join(sorted(unknown))}")
    existing = find_policy(conn, media_type, profile)
    if existing is None:
        values = {name: getattr(DEFAULT_POLICY, name) for name in POLICY_RULES} | rules
        conn.execute(insert(loan_policies).values(media_type=media_type, profile=profile, **values))
    elif rules:
        conn.execute(update(loan_policies).where(_c.id == existing.id).values(**rules))
    found = find_policy(conn, media_type, profile)
    assert found is not None
    return found, existing is None


def delete_policy(
    conn: Connection, media_type: str | None, profile: str | None
) -> LoanPolicyRecord | None:
    """Delete exactly this scope's row; the deleted policy, or None when there was none."""
    existing = find_policy(conn, media_type, profile)
    if existing is not None:
        conn.execute(delete(loan_policies).where(_c.id == existing.id))
    return existing
