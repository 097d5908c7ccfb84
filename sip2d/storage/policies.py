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

from sqlalchemy import ColumnElement, Connection, Select, bindparam, case, or_, select

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
