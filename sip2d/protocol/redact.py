"""The one way a decoded message may reach a log: its fields with the secrets masked.

Frames carry a patron PIN (AD), a terminal password (AC) and the kiosk's login password (CO) in
clear. The project rule is that none of them ever appears in a log line, an exception or a repr,
so the server logs ``redacted_fields(message)`` and never the raw frame, and every message's
``repr`` goes through the same function.

A secret is masked wherever the decoder put it. That is usually the attribute the layout names
(``patron_password``...), but a kiosk may send a secret in a message whose layout lacks it (AD in
a 17 Item Information or a 09 Checkin, CO in a 23): the lenient decoder keeps such a field in
``extra`` as a ``(code, value)`` pair, and a PIN there is just as secret. The codes are not listed
a second time here: :func:`secret_codes` reads them from the layout tables, as the codes of the
fields whose attribute is in :data:`SECRET_ATTRIBUTES`, so the list of secrets exists once.

An empty secret stays ``""`` and an absent one ``None``: whether a PIN was sent at all is useful
when diagnosing a kiosk and gives nothing away. In ``extra`` the code stays visible for the same
reason; only the value is masked.

What cannot be masked: a value that itself contains ``|`` is cut in two by the framing, and its
second half arrives as a separate field with a meaningless code. The protocol forbids ``|`` in
values and the PIN policy forbids it in PINs, so only a kiosk that ignores both can cause that.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sip2d.protocol.messages import Message

SECRET_ATTRIBUTES = frozenset({"patron_password", "terminal_password", "login_password"})
MASK = "***"


@functools.cache
def secret_codes() -> frozenset[str]:
    """The wire codes of the secret attributes in any layout: AC, AD and CO in SIP2 2.00."""
    # Imported here rather than at the top: messages imports this module for its __repr__,
    # and the tables are only complete once messages has finished importing.
    from sip2d.protocol.messages import MESSAGE_CLASSES

    return frozenset(
        var.code
        for cls in MESSAGE_CLASSES
        for var in cls.LAYOUT.variable
        if var.attr in SECRET_ATTRIBUTES
    )


# Message class -> the attributes to mask; filled on first use of each class.
_HIDDEN: dict[type, frozenset[str]] = {}


def _secret_attributes_of(cls: type[Message]) -> frozenset[str]:
    """Attributes of ``cls`` to mask: a secret attribute, or any field with a secret's code."""
    hidden = _HIDDEN.get(cls)
    if hidden is None:
        codes = secret_codes()
        names = {field.name for field in dataclasses.fields(cls)}
        hidden = frozenset(
            {var.attr for var in cls.LAYOUT.variable if var.code in codes}
            | (names & SECRET_ATTRIBUTES)
        )
        _HIDDEN[cls] = hidden
    return hidden


def _is_secret_code(code: str) -> bool:
    # The decoder only recognises upper-case codes, but a kiosk that writes "ad" still means a
    # PIN, and it is the log that must not show it.
    return code.upper() in secret_codes()


def _masked(value: object) -> object:
    return MASK if value else value


def redacted_fields(message: Message) -> dict[str, object]:
    """Field name -> value for a message, secrets replaced by ``"***"``; ``extra`` comes last.

    ``extra`` keeps its ``(code, value)`` pairs, in order, with the value of every AD, AC or CO
    pair masked.
    """
    hidden = _secret_attributes_of(type(message))
    result: dict[str, object] = {}
    for field in dataclasses.fields(message):
        name = field.name
        if name == "extra":
            continue
        value = getattr(message, name)
        result[name] = _masked(value) if name in hidden else value
    result["extra"] = tuple(
        (code, _masked(value) if _is_secret_code(code) else value) for code, value in message.extra
    )
    return result


def redacted_repr(message: Message) -> str:
    """``ClassName(field=value, ...)`` with the secrets masked: the ``repr`` of every message."""
    fields = ", ".join(f"{name}={value!r}" for name, value in redacted_fields(message).items())
    return f"{type(message).__name__}({fields})"
