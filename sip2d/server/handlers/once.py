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


def retry_window(ctx: HandlerContext) -> timedelta:
    return timedelta(seconds=ctx.config.server.retry_window)


def answered(response: Message, replayed: bool) -> Result:
    """The Result of a transaction's response: ``retry``, ``ok`` or ``refused``."""
    if replayed:
        return Result(response, "retry")
    done = getattr(response, "ok", None)
    if done is None:  # 38 says payment accepted rather than ok
        done = getattr(response, "payment_accepted", False)
    return Result(response, "ok" if done else "refused")
