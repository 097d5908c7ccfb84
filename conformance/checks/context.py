"""What a server check gets to work with: the run's facts and a recorder of its own.

:class:`RunState` is created once per run: the profile, the target, what the operator allowed,
and what the preflight learned (whether the kiosk login works, the BX flags of the 98). Every
check then gets a fresh :class:`CheckSession` over it, whose connections are recorded into the
check's own transcript and closed when the check ends, so one check's state never leaks into the
next one.
"""

from __future__ import annotations

import dataclasses

from conformance import requests
from conformance.judge import expect
from conformance.model import CheckFailed, CheckSkipped
from conformance.profile import Patron, Profile
from conformance.wire import Exchange, Frame, Recorder, Target, Wire, connect
from sip2d.protocol import LoginResponse, Message, SupportedMessages


@dataclasses.dataclass
class RunState:
    profile: Profile
    target: Target
    allow_changes: bool = False
    allow_lockout: bool = False
    supported: SupportedMessages | None = None
    # Every exchange of the whole run, for the run-wide format and error-detection checks.
    exchanges: list[Exchange] = dataclasses.field(default_factory=list)

    @property
    def checksums(self) -> bool:
        return self.profile.error_detection != "never"


class CheckSession:
    """The API a check coroutine uses: connect, log in, send, note, skip, fail."""

    def __init__(self, run: RunState, recorder: Recorder) -> None:
        self.run = run
        self.profile = run.profile
        self.recorder = recorder
        self.notes: list[str] = []
        self._wires: list[Wire] = []

    @property
    def encoding(self) -> str:
        return self.profile.encoding

    async def connect(self, *, login: bool = True) -> Wire:
        """A new connection; logged in with the profile's kiosk account unless told not to."""
        wire = await connect(
            self.run.target,
            self.recorder,
            encoding=self.profile.encoding,
            timeout=self.profile.timeout,
            checksums=self.run.checksums,
        )
        self._wires.append(wire)
        if login and self.profile.login is not None:
            await self.login(wire)
        return wire

    async def login(self, wire: Wire) -> None:
        frame = await wire.request(requests.login(self.profile))
        reply = expect(frame, LoginResponse, self.encoding)
        assert isinstance(reply, LoginResponse)
        if not reply.ok:
            raise CheckFailed("the profile's kiosk login was refused (940)")

    async def ask(self, wire: Wire, message: Message, expected: type[Message]) -> Message:
        """Send ``message`` and return the decoded response, which must be ``expected``."""
        frame = await wire.request(message)
        return expect(frame, expected, self.encoding)

    async def ask_frame(
        self, wire: Wire, message: Message, expected: type[Message]
    ) -> tuple[Message, Frame]:
        frame = await wire.request(message)
        return expect(frame, expected, self.encoding), frame

    def note(self, text: str) -> None:
        self.notes.append(text)

    # --- preconditions ----------------------------------------------------------------------

    def supports(self, message_id: str) -> bool:
        supported = self.run.supported
        return supported is not None and supported.supports(message_id)

    def require_supported(self, message_id: str) -> None:
        if not self.supports(message_id):
            raise CheckSkipped(f"the server's BX does not announce message {message_id}")

    def require_checksums(self) -> None:
        if not self.run.checksums:
            raise CheckSkipped("the profile says the server does not use error detection")

    def require_patron(self) -> Patron:
        if self.profile.patron is None:
            raise CheckSkipped("the profile names no [patron]")
        return self.profile.patron

    def require_pin(self) -> tuple[Patron, str]:
        patron = self.require_patron()
        if patron.pin is None:
            raise CheckSkipped("the profile gives no PIN for [patron]")
        return patron, patron.pin.reveal()

    def require_second(self) -> tuple[Patron, str | None]:
        second = self.profile.second_patron
        if second is None:
            raise CheckSkipped("the profile names no [second_patron]")
        return second, second.pin.reveal() if second.pin else None

    def require_item(self) -> str:
        if self.profile.item is None:
            raise CheckSkipped("the profile names no [item]")
        return self.profile.item

    def require_login(self) -> None:
        if self.profile.login is None:
            raise CheckSkipped("the profile has no [login]: the server is used without 93")

    def patron_pin(self) -> tuple[str, str | None]:
        patron = self.require_patron()
        return patron.barcode, patron.pin.reveal() if patron.pin else None

    async def close(self) -> None:
        for wire in self._wires:
            await wire.aclose()
        self._wires.clear()
