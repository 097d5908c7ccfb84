"""One task per kiosk connection: read frames, apply the exchange rules, answer in order.

SIP2 is strictly request/response (reference section 1), so a connection handles one frame
at a time; pipelined frames simply wait in the frame buffer. Three clocks bound a connection:
the login timeout (a socket that never logs in), the idle timeout (kiosks send 99 as
keep-alive; silence beyond it means a dead peer), and the partial-frame timeout (a client
trickling bytes of one frame is dropped). Sends have a clock too, the send timeout: a client
that pipelines requests and never reads fills its buffers until a response cannot be written,
and without a deadline that connection would hold its slot for ever. (One that keeps frames
coming and does read never waits for input either; the login clock is also checked before each
frame, so it too must log in in time.) Before each wait for input or output the connection notes
which clock ends it and when; the daemon's timekeeper task cancels the connection's one
cancel scope when that moment passes (:meth:`Connection.expire`). A cancel scope with a
deadline per receive cost a keep-alive as much as decoding it.
"""

from __future__ import annotations

import itertools
import logging
import math
import time
from typing import TYPE_CHECKING

import trio

from sip2d.auth.session_cache import PinSessionCache
from sip2d.protocol import FrameBuffer, FrameTooLong, redacted_fields
from sip2d.protocol.redact import MASK
from sip2d.server.exchange import Exchange, Execute, Refuse, Send
from sip2d.server.handlers.context import HandlerContext
from sip2d.server.session import Session

if TYPE_CHECKING:
    from sip2d.config import ListenerConfig
    from sip2d.server.context import ServerContext
    from sip2d.server.dispatch import Dispatcher

log = logging.getLogger("sip2d.server")

_connection_ids = itertools.count(1)
RECEIVE_SIZE = 4096


def peer_address(stream: trio.abc.Stream) -> str:
    """The client IP of a TCP (or TLS over TCP) stream, for limits and logs."""
    inner = getattr(stream, "transport_stream", stream)
    sock = getattr(inner, "socket", None)
    if sock is None:
        return "unknown"
    try:
        return str(sock.getpeername()[0])
    except OSError:
        return "unknown"


class Connection:
    """Serves one kiosk until it disconnects, times out, misbehaves, or the daemon stops."""

    def __init__(
        self,
        ctx: ServerContext,
        dispatcher: Dispatcher,
        stream: trio.abc.Stream,
        listener: ListenerConfig,
        address: str,
    ) -> None:
        self.ctx = ctx
        self.dispatcher = dispatcher
        self.stream = stream
        self.listener = listener
        server = ctx.config.server
        self.session = Session(
            connection_id=f"c{next(_connection_ids)}",
            address=address,
            pin_cache=PinSessionCache(ctx.pin_cache_key, ctx.config.session.pin_cache_seconds),
        )
        self.exchange = Exchange(max_consecutive_errors=server.max_consecutive_errors)
        # All a handler sees of this connection (and of the daemon).
        self.handler_ctx = HandlerContext(
            ctx,
            self.session,
            self.exchange,
            status_before_login=listener.allow_status_before_login,
        )
        self.frames = FrameBuffer(server.max_frame_bytes)
        # The clocks (see the module docstring): the scope the timekeeper cancels, and the
        # deadline and reason of the current wait for input (infinite when not waiting).
        self._scope: trio.CancelScope | None = None
        self._wait_deadline = math.inf  # while waiting for input: when the wait ends
        self._wait_reason = ""
        self._receiving = False  # waiting for input (not for a send): shutdown may end it
        self._connected_at = self._last_activity = 0.0
        self._partial_since: float | None = None

    async def serve(self) -> None:
        ctx = self.ctx
        ctx.metrics.connections_open.inc()
        ctx.connections.add(self)
        log.info(
            "connect", extra={"conn": self.session.connection_id, "peer": self.session.address}
        )
        reason = "closed by client"
        try:
            if self.listener.login_account and not await self.dispatcher.bind_listener_account(
                self.handler_ctx, self.listener.login_account
            ):
                reason = "database unavailable"
            else:
                reason = await self._loop()
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            reason = "connection reset"
        except FrameTooLong:
            reason = "frame too long"
        finally:
            ctx.connections.discard(self)
            ctx.metrics.connections_open.dec()
            log.info(
                "disconnect",
                extra={
                    "conn": self.session.connection_id,
                    "reason": reason,
                    "account": self.session.login,
                },
            )
            with trio.CancelScope(shield=True), trio.move_on_after(1):
                await self.stream.aclose()

    def expire(self, now: float) -> None:
        """End a wait for input whose clock ran out by ``now`` (the daemon's timekeeper)."""
        if now >= self._wait_deadline and self._scope is not None:
            self._scope.cancel()

    def stop_waiting(self) -> None:
        """Shutdown: end a wait for input. A message already received is answered first."""
        if self._receiving and self._scope is not None:
            self._scope.cancel()

    async def _loop(self) -> str:
        self._connected_at = self._last_activity = trio.current_time()
        while True:
            reason: str | None = None
            with trio.CancelScope() as self._scope:
                reason = await self._serve_frames(self._scope)
            if reason is not None:
                return reason
            if self._scope.cancelled_caught:
                return "server shutting down" if self.ctx.stopping.is_set() else self._wait_reason
            # Cancelled just as input arrived: that input is answered, under a fresh scope.

    async def _serve_frames(self, scope: trio.CancelScope) -> str | None:
        """Answer frames until the connection must close (a reason) or ``scope`` is spent.

        The timekeeper or a shutdown cancels ``scope`` only while this waits for input, so a
        message in hand is always answered. Returns ``None`` when the scope was cancelled at
        the very moment input arrived: the input is kept and the caller opens a new scope.
        """
        server = self.ctx.config.server
        while True:
            frame = self.frames.next_frame()
            if frame is not None:
                self._last_activity = now = trio.current_time()
                # Pipelined frames never wait for input, where the clocks are looked at: the
                # login clock is also checked here, so a client that keeps a stream of frames
                # coming (and reads the answers) still has to log in within the timeout.
                if not self.session.logged_in and now >= self._connected_at + server.login_timeout:
                    return "login timeout"
                closing = await self._handle(frame)
                if closing:
                    return closing
                if scope.cancel_called:
                    return self._wait_reason  # the answer went out just as its clock ran out
                self._partial_since = trio.current_time() if self.frames.pending else None
                continue
            if self.ctx.stopping.is_set():
                return "server shutting down"
            # The earliest of the clocks that apply; on a tie the first named wins.
            reason, deadline = "idle timeout", self._last_activity + server.idle_timeout
            if not self.session.logged_in and self._connected_at + server.login_timeout < deadline:
                reason, deadline = "login timeout", self._connected_at + server.login_timeout
            partial_since = self._partial_since
            if partial_since is not None and partial_since + server.frame_timeout < deadline:
                reason, deadline = "partial frame timeout", partial_since + server.frame_timeout
            self._wait_reason, self._wait_deadline = reason, deadline
            self._receiving = True
            try:
                data = await self.stream.receive_some(RECEIVE_SIZE)
            finally:
                self._receiving = False
                self._wait_deadline = math.inf
            if not data:
                return "server shutting down" if self.ctx.stopping.is_set() else "closed by client"
            self.frames.feed(bytes(data))
            if not self.frames.pending:
                self._partial_since = None
            elif partial_since is None:
                self._partial_since = trio.current_time()
            if scope.cancel_called:
                return None

    async def _send(self, data: bytes) -> None:
        """Write one response within the send timeout."""
        self._wait_reason = "send timeout"
        self._wait_deadline = trio.current_time() + self.ctx.config.server.send_timeout
        try:
            await self.stream.send_all(data)
        finally:
            self._wait_deadline = math.inf

    async def _handle(self, frame: bytes) -> str | None:
        """Answer one frame. Returns a reason when the connection must close."""
        ctx = self.ctx
        started = time.perf_counter()
        action = self.exchange.receive(frame)
        if not isinstance(action, Execute):
            return await self._answer_unexecuted(action, started)
        received = action.received
        message = received.message
        result = await self.dispatcher.dispatch(self.handler_ctx, message)
        data = self.exchange.respond(received, result.response, store=result.store)
        elapsed = time.perf_counter() - started
        msg_id = type(message).MESSAGE_ID
        ctx.metrics.count_message(msg_id, result.outcome, elapsed)
        # A 99 answered normally is a kiosk's keep-alive, sent every few seconds for as long as
        # it runs: at INFO it would be most of the log and a quarter of the daemon's CPU, so
        # it is logged at DEBUG. A 99 answered otherwise (off line, refused) stays at INFO.
        level = logging.DEBUG if msg_id == "99" and result.outcome == "ok" else logging.INFO
        if log.isEnabledFor(level):
            extra: dict[str, object] = {
                "conn": self.session.connection_id,
                "account": self.session.login,
                "msg_id": msg_id,
                "result": result.outcome,
                "ms": round(elapsed * 1000, 2),
            }
            # The parsed fields (secrets masked by the codec's one redacting function) cost as
            # much as the rest of the message to format, so they are logged at DEBUG only.
            if log.isEnabledFor(logging.DEBUG):
                fields = redacted_fields(message)
                for name in result.hide:
                    fields[name] = MASK
                extra["fields"] = fields
            log.log(level, "message", extra=extra)
        await self._send(data)
        return result.close

    async def _answer_unexecuted(self, action: Send | Refuse, started: float) -> str | None:
        """A frame the exchange rules answer without executing it (a resend, a 96, a refusal)."""
        ctx = self.ctx
        if isinstance(action, Send):
            ctx.metrics.count_wire_event(action.reason)
            log.info(
                "wire",
                extra={
                    "conn": self.session.connection_id,
                    "account": self.session.login,
                    "result": action.reason,
                },
            )
            await self._send(action.data)
            return f"too many errors ({action.reason})" if action.close else None
        if isinstance(action, Refuse):
            ctx.metrics.count_message(action.message_id, "malformed", time.perf_counter() - started)
            log.warning(
                "malformed",
                extra={
                    "conn": self.session.connection_id,
                    "account": self.session.login,
                    "msg_id": action.message_id,
                    "error": str(action.error),
                },
            )
            response = self.dispatcher.refusal_for(
                self.handler_ctx, action.message_id, f"Malformed request: {action.error.reason}"
            )
            if response is None:
                await self._send(self.exchange.resend_request(action.checksummed))
            else:
                await self._send(self.exchange.refusal(action, response))
            return "too many malformed frames" if action.close else None
