"""`sip2d mail test ADDRESS`: one mail through the configured transport, to say plainly
whether the PIN page's mail set-up works before a patron depends on it."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from sip2d.cli.common import CliState, pass_state
from sip2d.mail import render
from sip2d.mail.transport import MailError, make_transport


@click.group(name="mail")
def command() -> None:
    """Check the mail set-up of the PIN page."""


@command.command("test")
@click.argument("address")
@pass_state
def mail_test(state: CliState, address: str) -> None:
    """Send one test mail to ADDRESS through the configured [mail] transport."""
    config = state.config
    text = render.test_text("en", library=config.web.library_name)
    message = render.as_message(
        text, sender=config.mail.from_address, to=address, now=datetime.now(UTC)
    )
    try:
        make_transport(config.mail).send(message)
    except MailError as exc:
        raise click.ClickException(f"test mail not sent: {exc}") from None
    where = (
        f"written to {config.mail.directory}"
        if config.mail.transport == "directory"
        else f"handed to {config.mail.smtp_host}:{config.mail.smtp_port}"
    )
    click.echo(f"test mail to {address} {where}")
