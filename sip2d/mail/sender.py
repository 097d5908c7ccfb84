"""The task that drains the outbox: render, hand over in a worker thread, retry with backoff.

Several senders (daemons on one PostgreSQL, a desk command) may run at once: each mail is
leased in the database before it is sent (:func:`~sip2d.storage.selfservice.claim_due_mail`),
so one of them sends it. A failure is counted in metrics and retried after 1, 2, 4 ...
minutes (at most an hour) until ``[mail] max_attempts``; then the mail is given up and its
seed erased. The answer a patron saw never depended on any of this.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Final

import trio
from prometheus_client import CollectorRegistry, Counter

from sip2d.auth.pin_secrets import SelfServiceKeys
from sip2d.config import Config
from sip2d.mail import render
from sip2d.mail.transport import MailError, Transport
from sip2d.storage import selfservice
from sip2d.storage.runner import DatabaseRunner

log = logging.getLogger("sip2d.mail")

LEASE: Final = timedelta(minutes=2)
POLL_SECONDS: Final = 5.0
MAX_BACKOFF: Final = timedelta(hours=1)


class MailMetrics:
    """``sip2d_mail_sent_total`` and ``sip2d_mail_failures_total`` in the daemon's registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        registry = registry if registry is not None else CollectorRegistry()
        self.sent = Counter("sip2d_mail_sent", "Mails handed to the transport", registry=registry)
        self.failures = Counter(
            "sip2d_mail_failures",
            "Mail deliveries that failed (each retry counts)",
            registry=registry,
        )


def backoff(attempts: int) -> timedelta:
    return min(timedelta(minutes=2 ** max(attempts - 1, 0)), MAX_BACKOFF)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


class MailSender:
    def __init__(
        self,
        config: Config,
        db: DatabaseRunner,
        keys: SelfServiceKeys,
        transport: Transport,
        metrics: MailMetrics | None = None,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.config = config
        self.db = db
        self.keys = keys
        self.transport = transport
        self.metrics = metrics or MailMetrics()
        self.clock = clock
        self._wake = trio.Event()

    def wake(self) -> None:
        """Something was queued: look now rather than at the next poll."""
        self._wake.set()

    def message_for(self, mail: selfservice.DueMail, now: datetime) -> EmailMessage:
        web = self.config.web
        library = web.library_name
        base = web.base_url.rstrip("/")
        text: render.MailText
        if mail.kind == selfservice.MAIL_RESET_LINK:
            if mail.link_seed is None:
                raise MailError("reset link mail without its seed")
            token = self.keys.token_for(mail.link_seed)
            text = render.reset_link_text(
                mail.language,
                library=library,
                last4=mail.card_last4,
                link=render.link_for(base, token),
                minutes=web.link_minutes,
                help_text=web.help_text,
            )
        elif mail.kind == selfservice.MAIL_PIN_CHANGED:
            text = render.pin_changed_text(
                mail.language,
                library=library,
                last4=mail.card_last4,
                forgot_link=base + render.FORGOT_PATH,
                help_text=web.help_text,
            )
        else:
            text = render.email_changed_text(
                mail.language, library=library, last4=mail.card_last4, help_text=web.help_text
            )
        return render.as_message(
            text,
            sender=self.config.mail.from_address,
            to=mail.to_address,
            now=now.replace(tzinfo=UTC),
        )

    async def deliver_due(self, only: int | None = None) -> int:
        """Send what is due now (or just mail ``only``); returns how many went out."""
        now = self.clock()
        claimed = await self.db.write(
            lambda conn: selfservice.claim_due_mail(conn, now=now, lease=LEASE, only=only)
        )
        sent = 0
        for mail in claimed:
            sent += await self._deliver(mail)
        return sent

    async def _deliver(self, mail: selfservice.DueMail) -> int:
        now = self.clock()
        try:
            message = self.message_for(mail, now)
            await trio.to_thread.run_sync(self.transport.send, message)
        except MailError as exc:
            error = str(exc)
            self.metrics.failures.inc()
            give_up = mail.attempts >= self.config.mail.max_attempts
            retry = None if give_up else now + backoff(mail.attempts)
            log.warning(
                "mail not delivered",
                extra={
                    "mail_id": mail.id,
                    "kind": mail.kind,
                    "attempt": mail.attempts,
                    "error": str(exc),
                    "retry": "no" if retry is None else retry.isoformat(sep=" "),
                },
            )
            await self.db.write(
                lambda conn: selfservice.mail_failed(
                    conn, mail.id, error=error, retry_at=retry, now=now
                )
            )
            return 0
        self.metrics.sent.inc()
        await self.db.write(lambda conn: selfservice.mail_sent(conn, mail.id, now))
        log.info("mail sent", extra={"mail_id": mail.id, "kind": mail.kind})
        return 1

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Drain the outbox until cancelled: when woken, and every few seconds (mail queued by
        other processes, retries coming due)."""
        task_status.started()
        while True:
            try:
                await self.deliver_due()
            except Exception as exc:  # the database may be away; the kiosks keep going
                log.warning("mail outbox unavailable", extra={"error": type(exc).__name__})
            with trio.move_on_after(POLL_SECONDS):
                await self._wake.wait()
            self._wake = trio.Event()
