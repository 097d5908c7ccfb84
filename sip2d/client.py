"""A small SIP2 client (SC side) on trio and the sans-IO codec.

Used by ``sip2d client`` for operators checking a server, by the tests to talk to a real
daemon over TCP, and by the conformance suite and the load generator. It behaves like a
well-configured kiosk: one request at a time, error detection with a sequence number that
wraps 9 -> 0, and it can also send raw bytes so tests can behave like a badly configured one.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from datetime import datetime

import trio

from sip2d.protocol import FrameBuffer, Message, Received, decode, encode
from sip2d.protocol.messages import (
    CheckinRequest,
    CheckoutRequest,
    EndPatronSessionRequest,
    ItemInformationRequest,
    LoginRequest,
    PatronInformationRequest,
    PatronStatusRequest,
    SCStatus,
)
from sip2d.protocol.values import Summary


class ClientError(Exception):
    """The server closed the connection or did not answer in time."""


@dataclass
class SipClient:
    """One kiosk connection."""

    stream: trio.abc.Stream
    encoding: str = "utf-8"
    checksums: bool = True
    terminator: bytes = b"\r"
    timeout: float = 10.0
    sequence: int = 0
    frames: FrameBuffer = field(default_factory=lambda: FrameBuffer(1 << 20))
    # Every frame sent and received, for reports and debugging (secrets included: callers mask).
    transcript: list[tuple[str, bytes]] = field(default_factory=list)

    @classmethod
    async def connect(
        cls,
        host: str,
        port: int,
        *,
        tls: ssl.SSLContext | None = None,
        server_hostname: str | None = None,
        local_address: str | None = None,
        **options: object,
    ) -> SipClient:
        """Open a connection; ``options`` set the :class:`SipClient` fields.

        ``local_address`` binds the client end to one source IP (e.g. 127.0.0.2, the whole
        127/8 is loopback on Linux), so a test or a load run can look like many kiosks at
        different addresses, which is what per-address limits key on.
        """
        stream: trio.abc.Stream = await trio.open_tcp_stream(
            host, port, local_address=local_address
        )
        if tls is not None:
            ssl_stream = trio.SSLStream(stream, tls, server_hostname=server_hostname or host)
            await ssl_stream.do_handshake()
            stream = ssl_stream
        return cls(stream, **options)  # type: ignore[arg-type]

    async def aclose(self) -> None:
        await self.stream.aclose()

    async def __aenter__(self) -> SipClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def send_raw(self, data: bytes) -> None:
        self.transcript.append(("sent", data))
        await self.stream.send_all(data)

    async def receive_frame(self, timeout: float | None = None) -> bytes:
        """The next complete frame from the server (without terminator)."""
        with trio.move_on_after(self.timeout if timeout is None else timeout) as scope:
            while True:
                frame = self.frames.next_frame()
                if frame is not None:
                    self.transcript.append(("received", frame))
                    return frame
                data = await self.stream.receive_some(65536)
                if not data:
                    raise ClientError("server closed the connection")
                self.frames.feed(bytes(data))
        assert scope.cancelled_caught
        raise ClientError("no response before the timeout")

    def encode(self, message: Message, *, sequence: int | None = None) -> bytes:
        """The bytes this client would send for ``message`` (advances the sequence number)."""
        if not self.checksums:
            return encode(message, self.encoding, terminator=self.terminator)
        seq = self.sequence if sequence is None else sequence
        if sequence is None:
            self.sequence = (self.sequence + 1) % 10
        return encode(
            message, self.encoding, sequence=seq, checksum=True, terminator=self.terminator
        )

    async def request(self, message: Message, *, sequence: int | None = None) -> Received:
        """Send one request and decode the response."""
        await self.send_raw(self.encode(message, sequence=sequence))
        return decode(await self.receive_frame(), self.encoding)

    # Convenience builders for the common kiosk messages.

    async def login(self, user: str, password: str, location: str = "") -> bool:
        reply = await self.request(
            LoginRequest(
                uid_algorithm="0",
                pwd_algorithm="0",
                login_user_id=user,
                login_password=password,
                location_code=location or None,
            )
        )
        return bool(getattr(reply.message, "ok", False))

    async def sc_status(self, print_width: int = 40) -> Received:
        return await self.request(
            SCStatus(status_code="0", max_print_width=print_width, protocol_version="2.00")
        )

    async def patron_status(
        self,
        patron: str,
        pin: str | None = None,
        institution: str = "",
        when: datetime | None = None,
    ) -> Received:
        return await self.request(
            PatronStatusRequest(
                language="000",
                transaction_date=when or datetime.now().replace(microsecond=0),
                institution_id=institution,
                patron_identifier=patron,
                terminal_password="",
                patron_password=pin if pin is not None else "",
            )
        )

    async def patron_information(
        self,
        patron: str,
        pin: str | None = None,
        *,
        summary: Summary | None = None,
        start: int | None = None,
        end: int | None = None,
        institution: str = "",
    ) -> Received:
        return await self.request(
            PatronInformationRequest(
                language="000",
                transaction_date=datetime.now().replace(microsecond=0),
                summary=summary or Summary(),
                institution_id=institution,
                patron_identifier=patron,
                terminal_password="",
                patron_password=pin,
                start_item=start,
                end_item=end,
            )
        )

    async def checkout(
        self,
        patron: str,
        item: str,
        pin: str | None = None,
        *,
        institution: str = "",
        **extra: object,
    ) -> Received:
        fields: dict[str, object] = {
            "sc_renewal_policy": True,
            "no_block": False,
            "transaction_date": datetime.now().replace(microsecond=0),
            "nb_due_date": None,
            "institution_id": institution,
            "patron_identifier": patron,
            "item_identifier": item,
            "terminal_password": "",
            "patron_password": pin,
        }
        fields.update(extra)
        return await self.request(CheckoutRequest(**fields))  # type: ignore[arg-type]

    async def checkin(
        self, item: str, *, location: str = "", institution: str = "", **extra: object
    ) -> Received:
        now = datetime.now().replace(microsecond=0)
        fields: dict[str, object] = {
            "no_block": False,
            "transaction_date": now,
            "return_date": now,
            "current_location": location,
            "institution_id": institution,
            "item_identifier": item,
            "terminal_password": "",
        }
        fields.update(extra)
        return await self.request(CheckinRequest(**fields))  # type: ignore[arg-type]

    async def item_information(self, item: str, institution: str = "") -> Received:
        return await self.request(
            ItemInformationRequest(
                transaction_date=datetime.now().replace(microsecond=0),
                institution_id=institution,
                item_identifier=item,
            )
        )

    async def end_session(self, patron: str, institution: str = "") -> Received:
        return await self.request(
            EndPatronSessionRequest(
                transaction_date=datetime.now().replace(microsecond=0),
                institution_id=institution,
                patron_identifier=patron,
            )
        )
