"""What the transaction handlers (11, 09, 29, 65, 37) share about retries.

Each runs its unit of work through :func:`sip2d.circulation.retries.answer_once`, which gives
back the response and whether it was a retry answered from the stored reply. The window comes
from ``[server] retry_window``; a replayed answer is counted and logged as ``retry``, apart
from the transactions that ran.
"""

from __future__ import annotations

from datetime import timedelta

from sip2d.protocol import Message
from sip2d.server.handlers.context import HandlerContext, Result
from sip2d.storage.replies import ReplyKey


def retry_window(ctx: HandlerContext) -> timedelta:
    return timedelta(seconds=ctx.config.server.retry_window)


def refuse_at_once(refusal: str | None, pin: str | None, key: ReplyKey | None) -> bool:
    """Whether a PIN refusal is answered before the retry lookup.

    A presented PIN that failed is always refused at once (AD is never ignored). A missing PIN
    that ``session.checkout_pin`` asks for is refused only when the request cannot be a retry:
    a kiosk that resends, on a new connection, a checkout it sent PIN-less within a verified
    patron session gets the original answer, which changes nothing and tells it only what it
    already did; anything else is still refused, in the unit of work (see the handlers).
    """
    return refusal is not None and bool(pin or key is None)


def answered(response: Message, replayed: bool, *, pin_refused: bool = False) -> Result:
    """The Result of a transaction's response: ``retry``, ``ok``, ``refused``, ``pin_refused``."""
    if replayed:
        return Result(response, "retry")
    if pin_refused:
        return Result(response, "pin_refused")
    done = getattr(response, "ok", None)
    if done is None:  # 38 says payment accepted rather than ok
        done = getattr(response, "payment_accepted", False)
    return Result(response, "ok" if done else "refused")
