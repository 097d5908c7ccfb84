"""Which loan rules apply to a checkout.

A ``loan_policies`` row names a media type, a patron profile, both, or neither (NULL matches
anything). The most specific matching row wins: both named, then media type alone, then
profile alone, then the catch-all. Media type outranks profile because a rule such as "DVDs go
out for a week" is about the thing lent and should hold for every kind of patron unless a row
names both. With no matching row at all (a fresh database) :data:`DEFAULT_POLICY` applies, so
circulation works before anyone has written a policy.
"""

from __future__ import annotations

from sqlalchemy import Connection, bindparam, case, or_, select

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


# Built once: this runs for every patron status and checkout (see queries.py on why).
_RESOLVE = Prepared(
    select(loan_policies)
    .where(
        or_(_c.media_type == bindparam("media_type"), _c.media_type.is_(None)),
        or_(_c.profile == bindparam("profile"), _c.profile.is_(None)),
    )
    .order_by(_SPECIFICITY.desc())
    .limit(1)
)


def resolve_loan_policy(conn: Connection, media_type: str, profile: str) -> LoanPolicyRecord:
    """The policy for lending an item of ``media_type`` to a patron of ``profile``."""
    found = _RESOLVE.record(conn, LoanPolicyRecord, {"media_type": media_type, "profile": profile})
    return DEFAULT_POLICY if found is None else found
