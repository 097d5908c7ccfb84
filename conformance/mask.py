"""Making frames readable and safe to show: control bytes spelled out, secrets masked.

Every frame the reports show goes through :class:`Masker`. Two layers, because a report file is
often attached to a ticket or kept by CI:
- by field: the values of AC (terminal password), AD (patron PIN) and CO (login password) are
  replaced by ``***`` wherever the frame's layout puts them, so a secret the profile does not
  know (a typo, another patron's PIN) is masked too;
- by value: every secret of the profile (PINs, kiosk and terminal passwords) is replaced
  wherever it appears in shown text, including check details and notes.
An empty value stays visible (``AD|``): whether a PIN was sent at all helps diagnose a kiosk.
"""

from __future__ import annotations

from collections.abc import Iterable

from sip2d.protocol import MESSAGE_TYPES
from sip2d.protocol.redact import MASK, secret_codes
from sip2d.protocol.trailer import split_trailer

_SPELLED = {0x0D: "<CR>", 0x0A: "<LF>", 0x00: "<NUL>", 0x09: "<TAB>"}
MAX_SHOWN = 400


class Masker:
    def __init__(self, secrets: Iterable[str], encoding: str = "utf-8") -> None:
        # Longest first, so a secret containing another is masked whole. Very short secrets
        # would mask digits all over a frame; they are still masked by field.
        self.secrets = sorted({s for s in secrets if len(s) >= 3}, key=len, reverse=True)
        self.encoding = encoding

    def text(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        return text

    def frame(self, data: bytes) -> str:
        """Printable, masked rendering of raw frame bytes (terminator spelled out)."""
        stripped = data.rstrip(b"\r\n")
        ending = data[len(stripped) :]
        leading = stripped[: len(stripped) - len(stripped.lstrip(b"\r\n\x00"))]
        core = stripped[len(leading) :]
        body, _trailer = split_trailer(core)
        tail = core[len(body) :]
        shown = _spell(leading) + self._mask_fields(body) + _spell(tail) + _spell(ending)
        shown = self.text(shown)
        if len(shown) > MAX_SHOWN:
            shown = f"{shown[:MAX_SHOWN]}... ({len(data)} bytes)"
        return shown

    def _mask_fields(self, body: bytes) -> str:
        text = _spell(body, self.encoding)
        cls = MESSAGE_TYPES.get(text[:2])
        start = 2 + cls.LAYOUT.fixed_width if cls is not None else 2
        if len(text) < start:
            return text
        pieces = text[start:].split("|")
        codes = secret_codes()
        masked = [p[:2] + MASK if p[:2] in codes and len(p) > 2 else p for p in pieces]
        return text[:start] + "|".join(masked)


def _spell(data: bytes, encoding: str = "latin-1") -> str:
    out: list[str] = []
    for char in data.decode(encoding, "replace"):
        code = ord(char)
        if code in _SPELLED:
            out.append(_SPELLED[code])
        elif code < 0x20 or code == 0x7F:
            out.append(f"<{code:02X}>")
        else:
            out.append(char)
    return "".join(out)
