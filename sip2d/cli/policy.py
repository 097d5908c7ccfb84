"""`sip2d policy`: the loan rules per patron profile and media type.

A policy row names a media type, a profile, both or neither ("any"); the most specific row that
matches a loan wins (see :mod:`sip2d.storage.policies`). ``set`` creates the row for a scope or
changes the rules given and leaves the others; ``delete`` removes exactly one scope's row, so
loans of that scope fall back to the next more general one. Changes and deletions are audited.
"""

from __future__ import annotations

import click

from sip2d.cli.common import CliState, pass_state
from sip2d.cli.db import reading, writing
from sip2d.cli.patron import money, parse_option
from sip2d.storage import values
from sip2d.storage.audit import cli_actor, record_audit
from sip2d.storage.errors import NotFound
from sip2d.storage.policies import DEFAULT_POLICY, delete_policy, list_policies, set_policy
from sip2d.storage.records import LoanPolicyRecord

ANY = "any"


def _media(raw: str) -> str | None:
    return None if raw.strip().lower() == ANY else values.digits_code(raw, 3, "001")


def _profile(raw: str) -> str | None:
    return None if raw.strip().lower() == ANY else values.text(raw, 32, required=True)


_MEDIA_TYPE = click.option(
    "--media-type",
    default=ANY,
    show_default=True,
    metavar="CODE",
    help="SIP2 media type (001 book, 005 video, 006 CD, ...), or 'any'.",
)
_PROFILE = click.option(
    "--profile",
    default=ANY,
    show_default=True,
    help="Patron profile (as `patron add --profile`), or 'any'.",
)


def _scope_text(media_type: str | None, profile: str | None) -> str:
    return f"media type {media_type or ANY}, profile {profile or ANY}"


def _subject(media_type: str | None, profile: str | None) -> str:
    return f"policy:{media_type or ANY}/{profile or ANY}"


def _rules_text(p: LoanPolicyRecord) -> dict[str, str]:
    return {
        "loan days": str(p.loan_days),
        "renewals": str(p.renewal_limit),
        "loan limit": str(p.max_loans),
        "fine per day": money(p.daily_fine_cents),
        "maximum fine": "none" if p.max_fine_cents == 0 else money(p.max_fine_cents),
        "block above": money(p.fine_threshold_cents),
    }


@click.group(name="policy")
def command() -> None:
    """Loan rules per profile and media type: loan days, renewals, fines, loan limit."""


@command.command("list")
@pass_state
def list_(state: CliState) -> None:
    """List the policies, the general ones first; the most specific match applies to a loan."""
    with reading(state) as conn:
        policies = list_policies(conn)
    head = (
        f"{'MEDIA':<6} {'PROFILE':<12} {'DAYS':>4} {'RENEW':>5} {'LIMIT':>5} "
        f"{'FINE/DAY':>8} {'MAX FINE':>8} {'BLOCK >':>8}"
    )
    click.echo(head)
    if not any(p.media_type is None and p.profile is None for p in policies):
        policies.insert(0, DEFAULT_POLICY)
    for p in policies:
        cap = "-" if p.max_fine_cents == 0 else money(p.max_fine_cents)
        line = (
            f"{p.media_type or ANY:<6} {p.profile or ANY:<12} {p.loan_days:>4} "
            f"{p.renewal_limit:>5} {p.max_loans:>5} {money(p.daily_fine_cents):>8} "
            f"{cap:>8} {money(p.fine_threshold_cents):>8}"
        )
        click.echo(line + ("  (built-in default; no row)" if p.id is None else ""))


@command.command("set")
@_MEDIA_TYPE
@_PROFILE
@click.option("--loan-days", type=click.IntRange(1, 3650), help="Days a loan runs.")
@click.option("--renewals", type=click.IntRange(0, 999), help="Renewals allowed per loan.")
@click.option(
    "--loan-limit", type=click.IntRange(0, 9999), help="Open loans a patron may have at once."
)
@click.option("--fine-per-day", metavar="AMOUNT", help="Fine per day late, e.g. 0.25 (0: none).")
@click.option(
    "--max-fine", metavar="AMOUNT", help="Most one late return is fined, e.g. 10.00 (0: no cap)."
)
@click.option(
    "--block-above",
    metavar="AMOUNT",
    help="Checkout is refused while the patron owes more than this.",
)
@pass_state
def set_(
    state: CliState,
    media_type: str,
    profile: str,
    loan_days: int | None,
    renewals: int | None,
    loan_limit: int | None,
    fine_per_day: str | None,
    max_fine: str | None,
    block_above: str | None,
) -> None:
    """Create or change the policy of one scope; rules not given keep their value (a new
    policy starts from the built-in defaults)."""
    scope_media = parse_option("--media-type", _media, media_type)
    scope_profile = parse_option("--profile", _profile, profile)
    rules: dict[str, int] = {}
    for column, given in (
        ("loan_days", loan_days),
        ("renewal_limit", renewals),
        ("max_loans", loan_limit),
    ):
        if given is not None:
            rules[column] = given
    for column, option, raw in (
        ("daily_fine_cents", "--fine-per-day", fine_per_day),
        ("max_fine_cents", "--max-fine", max_fine),
        ("fine_threshold_cents", "--block-above", block_above),
    ):
        if raw is not None:
            rules[column] = parse_option(option, values.amount_cents, raw)
    with writing(state) as conn:
        policy, created = set_policy(conn, scope_media, scope_profile, rules)
        record_audit(
            conn,
            actor=cli_actor(),
            action="policy.add" if created else "policy.change",
            subject=_subject(scope_media, scope_profile),
            detail=rules,
        )
    shown = ", ".join(f"{k} {v}" for k, v in _rules_text(policy).items())
    verb = "added" if created else ("changed" if rules else "unchanged")
    click.echo(f"policy for {_scope_text(scope_media, scope_profile)} {verb}: {shown}")


@command.command("delete")
@_MEDIA_TYPE
@_PROFILE
@pass_state
def delete(state: CliState, media_type: str, profile: str) -> None:
    """Delete the policy of exactly this scope; its loans fall back to a more general one."""
    scope_media = parse_option("--media-type", _media, media_type)
    scope_profile = parse_option("--profile", _profile, profile)
    with writing(state) as conn:
        gone = delete_policy(conn, scope_media, scope_profile)
        if gone is None:
            raise NotFound(f"no policy for {_scope_text(scope_media, scope_profile)}")
        record_audit(
            conn,
            actor=cli_actor(),
            action="policy.delete",
            subject=_subject(scope_media, scope_profile),
            detail={name: getattr(gone, name) for name in ("loan_days", "renewal_limit")},
        )
    click.echo(f"policy for {_scope_text(scope_media, scope_profile)} deleted")
