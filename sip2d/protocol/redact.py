"""The one way a decoded message may reach a log: its fields with the secrets masked.

Frames carry a patron PIN (AD), a terminal password (AC) and the kiosk's login password (CO) in
clear. The project rule is that none of them ever appears in a log line, an exception or a repr,
so the server logs ``redacted_fields(message)`` and never the raw frame, and every message's
``repr`` goes through the same function.

An empty secret stays ``""`` and an absent one ``None``: whether a PIN was sent at all is useful
when diagnosing a kiosk and gives nothing away.
"""

from __future__ import annotations

import dataclasses
from typing import Any

SECRET_ATTRIBUTES = frozenset({"patron_password", "terminal_password", "login_password"})
MASK = "***"


def redacted_fields(message: Any) -> dict[str, object]:
    """Field name -> value for a message dataclass, secrets replaced by ``"***"``."""
    result: dict[str, object] = {}
    extra: object = ()
    for field in dataclasses.fields(message):
        value = getattr(message, field.name)
        if field.name == "extra":
            extra = value
        elif field.name in SECRET_ATTRIBUTES and value:
            result[field.name] = MASK
        else:
            result[field.name] = value
    result["extra"] = extra
    return result


def redacted_repr(message: Any) -> str:
    fields = ", ".join(f"{name}={value!r}" for name, value in redacted_fields(message).items())
    return f"{type(message).__name__}({fields})"
