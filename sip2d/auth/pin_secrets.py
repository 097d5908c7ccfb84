"""The self-service secrets of issue #16: mailed reset tokens and desk set-up codes.

A secret is never stored. What the database keeps is a keyed digest (HMAC-SHA256 under a key
derived from the pepper, :meth:`PinHasher.derived_key`), so a copy of the database cannot be
turned back into a working link or code, nor tested against guesses, without the pepper.

A reset token is 256 bits: HMAC(link key, seed), where the seed is 256 bits from
:mod:`secrets`. The outbox stores the seed until the mail is sent (the mail is rendered then),
so a queued mail survives a restart without the token ever being written in clear; the seed
is erased after delivery. Set-up codes are 50 random bits in Crockford's base 32 (no I, L, O,
U: read aloud and typed by hand), digested together with the card they belong to.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from typing import Final

from sip2d.auth.hashing import PinHasher

TOKEN_BYTES: Final = 32
# base64url of 32 bytes, no padding.
TOKEN_LENGTH: Final = 43
_TOKEN_SHAPE: Final = re.compile(r"[A-Za-z0-9_-]{43}")
CODE_ALPHABET: Final = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_SYMBOLS: Final = 10  # 50 bits
# What people type for the symbols the alphabet leaves out.
_CODE_FOLD: Final = str.maketrans({"O": "0", "I": "1", "L": "1", "-": None, " ": None})


class SelfServiceKeys:
    """Digests and derivations for tokens, codes and the patron state they are bound to."""

    def __init__(self, hasher: PinHasher) -> None:
        self._link = hasher.derived_key("pin-link-token")
        self._token = hasher.derived_key("pin-token-digest")
        self._code = hasher.derived_key("pin-setup-code")
        self._state = hasher.derived_key("pin-state")

    def __repr__(self) -> str:
        return "SelfServiceKeys(<derived>)"

    @staticmethod
    def new_seed() -> str:
        """256 random bits, as stored in the outbox until the link is mailed."""
        return secrets.token_hex(TOKEN_BYTES)

    def token_for(self, seed: str) -> str:
        """The link token made from ``seed``: 43 URL-safe characters (256 bits)."""
        mac = hmac.new(self._link, seed.encode("ascii"), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")

    def token_digest(self, token: str) -> str | None:
        """The stored form of ``token``, or None when it cannot be a token at all."""
        if not _TOKEN_SHAPE.fullmatch(token):
            return None
        return hmac.new(self._token, token.encode("ascii"), hashlib.sha256).hexdigest()

    @staticmethod
    def new_code() -> str:
        """A desk set-up code as printed: ``XXXXX-XXXXX``."""
        symbols = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_SYMBOLS))
        return f"{symbols[:5]}-{symbols[5:]}"

    def code_digest(self, barcode: str, code: str) -> str | None:
        """The stored form of ``code`` for the card ``barcode``; None when it cannot be one."""
        folded = code.upper().translate(_CODE_FOLD)
        if len(folded) != CODE_SYMBOLS or any(c not in CODE_ALPHABET for c in folded):
            return None
        data = f"{barcode}\x00{folded}".encode("utf-8", "surrogatepass")
        return hmac.new(self._code, data, hashlib.sha256).hexdigest()

    def state_of(self, pin_hash: str | None, email: str) -> str:
        """A digest of what a secret is bound to: the PIN record and the e-mail address."""
        data = f"{pin_hash or ''}\x00{email}".encode("utf-8", "surrogatepass")
        return hmac.new(self._state, data, hashlib.sha256).hexdigest()
