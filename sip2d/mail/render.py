"""The text of each mail the page sends, in the patron's language.

A mail carries no PIN, no token except inside the reset link, and only the last four digits
of the card. Rendering happens when a mail is sent, not when it is queued, so the token (made
from the outbox's seed) exists only in memory and in the mail itself.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Final

from sip2d.web.i18n import translations

RESET_PATH: Final = "/pin/reset"
FORGOT_PATH: Final = "/pin/forgot"


@dataclasses.dataclass(frozen=True)
class MailText:
    subject: str
    body: str


def link_for(base_url: str, token: str) -> str:
    """The reset link, always from the configured base URL (never a request's Host)."""
    return f"{base_url.rstrip('/')}{RESET_PATH}?token={token}"


def reset_link_text(
    language: str, *, library: str, last4: str, link: str, minutes: int, help_text: str
) -> MailText:
    _ = translations(language).gettext
    body = _(
        "Hello,\n\n"
        "someone asked to set up or reset the PIN of the {library} card ending in {last4}.\n"
        "To choose a new PIN, open this link within {minutes} minutes:\n\n"
        "{link}\n\n"
        "The link works once. If you did not ask for it, you can ignore this mail: "
        "your PIN stays as it is.\n"
    ).format(library=library, last4=last4, link=link, minutes=minutes)
    return MailText(_("Your PIN for {library}").format(library=library), _footer(body, help_text))


def pin_changed_text(
    language: str, *, library: str, last4: str, forgot_link: str, help_text: str
) -> MailText:
    _ = translations(language).gettext
    body = _(
        "Hello,\n\n"
        "the PIN of the {library} card ending in {last4} was just changed.\n\n"
        "If this was not you, set a new PIN at {link} or ask staff at the desk.\n"
    ).format(library=library, last4=last4, link=forgot_link)
    return MailText(_("Your PIN was changed"), _footer(body, help_text))


def email_changed_text(language: str, *, library: str, last4: str, help_text: str) -> MailText:
    _ = translations(language).gettext
    body = _(
        "Hello,\n\n"
        "the e-mail address of the {library} card ending in {last4} was changed; "
        "mail for this card no longer goes to this address.\n\n"
        "If this was not you, please contact the library.\n"
    ).format(library=library, last4=last4)
    return MailText(_("Your e-mail address was changed"), _footer(body, help_text))


def test_text(language: str, *, library: str) -> MailText:
    _ = translations(language).gettext
    body = _("This is a test mail from {library}: mail delivery works.\n").format(library=library)
    return MailText(_("Test mail from {library}").format(library=library), body)


def _footer(body: str, help_text: str) -> str:
    return f"{body}\n-- \n{help_text}\n" if help_text else body


def as_message(text: MailText, *, sender: str, to: str, now: datetime) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = text.subject
    message["Date"] = format_datetime(now)
    domain = sender.rpartition("@")[2] or "localhost"
    message["Message-ID"] = make_msgid(domain=domain.strip(">"))
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(text.body)
    return message
