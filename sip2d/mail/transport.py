"""How a mail leaves: SMTP (STARTTLS or TLS, optional login) or a file in a directory.

Both are blocking and run in a worker thread. The SMTP password comes from
``[mail] smtp_password_file`` or the environment variable ``SIP2D_SMTP_PASSWORD``, never
from the configuration file itself, and appears in no log line or error message.
"""

from __future__ import annotations

import os
import secrets
import smtplib
import ssl
from email.message import EmailMessage
from pathlib import Path
from typing import Final, Protocol

from sip2d.config import MailConfig

PASSWORD_ENV: Final = "SIP2D_SMTP_PASSWORD"


class MailError(Exception):
    """A mail could not be handed over; the message is safe to log (no password)."""


class Transport(Protocol):
    def send(self, message: EmailMessage) -> None: ...


class DirectoryTransport:
    """Each mail as one ``.eml`` file (written to a temporary name, then renamed)."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)

    def send(self, message: EmailMessage) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            name = f"{secrets.token_hex(8)}.eml"
            temporary = self.directory / f".{name}.tmp"
            temporary.write_bytes(bytes(message))
            temporary.rename(self.directory / name)
        except OSError as exc:
            raise MailError(f"cannot write to {self.directory}: {exc.strerror or exc}") from None


class SmtpTransport:
    """One SMTP session per mail: mails are rare, and a long-lived session would need care
    for servers that drop idle clients."""

    def __init__(self, cfg: MailConfig, password: str = "") -> None:
        self.cfg = cfg
        self._password = password

    def __repr__(self) -> str:
        return f"SmtpTransport({self.cfg.smtp_host}:{self.cfg.smtp_port}, {self.cfg.smtp_security})"

    def send(self, message: EmailMessage) -> None:
        cfg = self.cfg
        try:
            context = ssl.create_default_context(cafile=cfg.smtp_ca_file or None)
            client: smtplib.SMTP
            if cfg.smtp_security == "tls":
                client = smtplib.SMTP_SSL(
                    cfg.smtp_host, cfg.smtp_port, timeout=cfg.smtp_timeout, context=context
                )
            else:
                client = smtplib.SMTP(cfg.smtp_host, cfg.smtp_port, timeout=cfg.smtp_timeout)
            with client:
                if cfg.smtp_security == "starttls":
                    client.starttls(context=context)
                if cfg.smtp_user:
                    client.login(cfg.smtp_user, self._password)
                client.send_message(message)
        except smtplib.SMTPAuthenticationError:
            raise MailError("SMTP login refused (check smtp_user and the password)") from None
        except (smtplib.SMTPException, OSError, ssl.SSLError, ValueError) as exc:
            raise MailError(f"SMTP {cfg.smtp_host}:{cfg.smtp_port}: {type(exc).__name__}") from None


def smtp_password(cfg: MailConfig, env: dict[str, str] | None = None) -> str:
    env = dict(os.environ) if env is None else env
    if cfg.smtp_password_file:
        try:
            return Path(cfg.smtp_password_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise MailError(
                f"mail.smtp_password_file: cannot read {cfg.smtp_password_file} "
                f"({exc.strerror or exc})"
            ) from None
    return env.get(PASSWORD_ENV, "")


def make_transport(cfg: MailConfig) -> Transport:
    if cfg.transport == "directory":
        return DirectoryTransport(cfg.directory)
    return SmtpTransport(cfg, smtp_password(cfg) if cfg.smtp_user else "")
