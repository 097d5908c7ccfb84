"""Desk commands of the PIN page (issue #16): ``sip2d patron send-reset-link`` and
``sip2d patron issue-setup-code``.

Staff never see or choose a PIN: they either mail the patron a reset link (only when an e-mail
address is on file) or hand over a one-time set-up code for ``/pin/setup``, printed once and
stored only as a keyed digest. Both are audited, without the secret. Registered into the
``patron`` group by :func:`register`, so the group's own module stays as it is.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import click
import trio
from sqlalchemy import Connection

from sip2d.auth.pin_secrets import SelfServiceKeys
from sip2d.cli.common import CliState, pass_state
from sip2d.cli.db import open_database, storage_errors
from sip2d.cli.patron import load_hasher
from sip2d.mail.sender import MailSender
from sip2d.mail.transport import MailError, make_transport
from sip2d.storage import selfservice, values
from sip2d.storage.audit import cli_actor, record_audit
from sip2d.storage.errors import NotFound
from sip2d.storage.queries import get_patron_by_barcode
from sip2d.storage.records import PatronRecord
from sip2d.storage.runner import DatabaseRunner
from sip2d.web.i18n import mail_language

REFUSALS = {
    selfservice.LinkOutcome.TOO_SOON: "a link was mailed to this card less than {minutes} "
    "minutes ago; ask the patron to check their mail (and spam folder) first",
    selfservice.LinkOutcome.DAILY_LIMIT: "this card had {per_day} links mailed in the last "
    "24 hours; issue a set-up code instead (sip2d patron issue-setup-code {card})",
    selfservice.LinkOutcome.GLOBAL_LIMIT: "the library's hourly mail limit is reached "
    "([mail] max_per_hour); try again later or issue a set-up code",
}


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def _patron(conn: Connection, card: str) -> PatronRecord:
    patron = get_patron_by_barcode(conn, card)
    if patron is None:
        raise NotFound(f"no patron with barcode {values.shown(card)}")
    return patron


@click.command("send-reset-link")
@click.argument("card")
@pass_state
def send_reset_link(state: CliState, card: str) -> None:
    """Mail the patron a link to choose a new PIN (needs an e-mail address on file)."""
    config = state.config
    keys = SelfServiceKeys(load_hasher(state))
    web = config.web
    if not web.base_url:
        raise click.ClickException("web.base_url is not set: links are built from it")
    now = _now()
    limits = selfservice.MailLimits(
        interval=timedelta(minutes=web.mail_interval_minutes),
        per_day=web.mails_per_patron_per_day,
        global_per_hour=config.mail.max_per_hour,
    )

    def work(conn: Connection) -> selfservice.LinkOutcome:
        patron = _patron(conn, card)
        if not patron.email:
            raise click.ClickException(
                f"patron {card} has no e-mail address on file; issue a set-up code instead "
                f"(sip2d patron issue-setup-code {card}) after checking photo ID"
            )
        outcome = selfservice.issue_reset_link(
            conn,
            keys,
            card,
            now=now,
            minutes=web.link_minutes,
            language=mail_language(patron.language, "en"),
            limits=limits,
        )
        if outcome is selfservice.LinkOutcome.QUEUED:
            record_audit(
                conn, actor=cli_actor(), action="reset_link.send", subject=f"patron:{card}", at=now
            )
        return outcome

    with open_database(state) as engine:
        with storage_errors(), engine.execution_options(sqlite_write=True).begin() as conn:
            outcome = work(conn)
        if outcome is not selfservice.LinkOutcome.QUEUED:
            text = REFUSALS[outcome].format(
                minutes=f"{web.mail_interval_minutes:g}",
                per_day=web.mails_per_patron_per_day,
                card=card,
            )
            raise click.ClickException(f"no link sent: {text}")
        sender = MailSender(config, DatabaseRunner(engine), keys, make_transport(config.mail))
        with storage_errors():
            try:
                sent = trio.run(sender.deliver_due)
            except MailError as exc:
                raise click.ClickException(str(exc)) from None
    if sent:
        click.echo(f"reset link mailed for patron {card} (valid {web.link_minutes} minutes)")
    else:
        click.echo(
            f"reset link queued for patron {card}; delivery failed for now and is retried by "
            "the running daemon (see its log)"
        )


@click.command("issue-setup-code")
@click.argument("card")
@pass_state
def issue_setup_code(state: CliState, card: str) -> None:
    """Print a one-time code with which the patron sets a PIN at /pin/setup (24 hours)."""
    config = state.config
    keys = SelfServiceKeys(load_hasher(state))
    hours = config.web.setup_code_hours
    now = _now()

    def work(conn: Connection) -> str:
        patron = _patron(conn, card)
        code = selfservice.issue_setup_code(conn, keys, patron, now=now, hours=hours)
        record_audit(
            conn,
            actor=cli_actor(),
            action="setup_code.issue",
            subject=f"patron:{card}",
            detail={"hours": hours},
            at=now,
        )
        return code

    with (
        open_database(state) as engine,
        storage_errors(),
        engine.execution_options(sqlite_write=True).begin() as conn,
    ):
        code = work(conn)
    where = f"{config.web.base_url.rstrip('/')}/pin/setup" if config.web.base_url else "/pin/setup"
    click.echo(f"set-up code for patron {card}: {code}")
    click.echo(f"valid {hours} hours, once, with this card only, at {where}")
    click.echo("(shown only now; issuing another code cancels this one)")


@click.group(name="patron")
def command() -> None:
    """Desk commands for a patron's PIN; merged into ``sip2d patron`` (sip2d.cli.COMMANDS)."""


command.add_command(send_reset_link)
command.add_command(issue_setup_code)
