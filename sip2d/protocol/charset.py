"""Character sets: turning frame bytes into text and field values back into safe bytes.

SIP2 has no charset negotiation (reference 2.4, pitfall P6): each kiosk account is configured with
one. We offer ``utf-8`` (default), ``cp850``, ``latin-1`` and ``ascii`` (any Python codec name
works, these four are the ones we test).

Choices:
- Decoding never fails: if the bytes are not valid in the configured codec (a UTF-8 account whose
  kiosk sends Latin-1 names), the frame is decoded as Latin-1, which maps every byte, rather than
  dropping the patron's transaction (reference 2.4). That fallback is two lines inlined in
  ``codec.decode`` because it sits on the hot path.
- Output values are made safe instead of refused (reference 2.3, P24, P26): ``|``, CR, LF and NUL
  become a space; a value is cut to 255 *encoded* bytes without splitting a multi-byte character;
  characters the codec cannot represent become ``?``. For ``ascii`` we first transliterate
  (NFKD, drop combining marks) so "José" becomes "Jose", not "Jos?".
"""

from __future__ import annotations

import codecs
import re
import unicodedata

MAX_VALUE_BYTES = 255
SUPPORTED_ENCODINGS = ("utf-8", "cp850", "latin-1", "ascii")

_UNSAFE = re.compile("[|\r\n\x00]")
# Fixed fields are printable ASCII, and never "|": a delimiter in the fixed part would make a
# receiver that checks alignment (sip2d does, for 37) refuse the frame.
_UNSAFE_FIXED = re.compile("[^ -{}~]")


def canonical_encoding(encoding: str) -> str:
    """Python's canonical name of a codec (``"UTF8"`` -> ``"utf-8"``); LookupError if unknown."""
    return codecs.lookup(encoding).name


def is_single_byte(encoding: str) -> bool:
    """Whether one character is always one byte (so truncating by characters is exact)."""
    return canonical_encoding(encoding) in _SINGLE_BYTE


_SINGLE_BYTE = frozenset(
    canonical_encoding(name) for name in ("ascii", "latin-1", "cp850", "cp437", "cp1252")
)


def transliterate(text: str) -> str:
    """ASCII approximation: NFKD, combining marks dropped, anything else non-ASCII -> ``?``."""
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFKD", text)
    kept = "".join(c for c in decomposed if not unicodedata.combining(c))
    return kept.encode("ascii", "replace").decode("ascii")


def fit_value(value: str, encoding: str, single_byte: bool, ascii_only: bool) -> str:
    """Sanitise, transliterate for ASCII, and cut to 255 encoded bytes.

    ``single_byte`` and ``ascii_only`` are passed in (computed once per encode) so the common
    short ASCII value costs a couple of checks.
    """
    if _UNSAFE.search(value):
        value = _UNSAFE.sub(" ", value)
    if ascii_only and not value.isascii():
        value = transliterate(value)
    if len(value) <= MAX_VALUE_BYTES // 4:
        return value  # even at 4 bytes per character it fits
    if single_byte:
        return value[:MAX_VALUE_BYTES]
    encoded = value.encode(encoding, "replace")
    if len(encoded) <= MAX_VALUE_BYTES:
        return value
    # Cutting the bytes may split a character; "ignore" drops the partial tail.
    return encoded[:MAX_VALUE_BYTES].decode(encoding, "ignore")


def fit_fixed(value: str, width: int) -> str:
    """A fixed field: printable ASCII but ``|``, exactly ``width`` characters (pad or cut)."""
    if _UNSAFE_FIXED.search(value):
        value = _UNSAFE_FIXED.sub(" ", value)
    if len(value) != width:
        value = value[:width].ljust(width)
    return value
