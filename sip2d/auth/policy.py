"""Which PINs a patron may choose.

A four-digit PIN has only 10,000 values, and people do not pick them evenly: a handful of
PINs (1234, 0000, 1111, ...) cover a large share of real choices. Online guessing limits stop
an attacker after a few tries per card, so the few tries must not land on the PINs everyone
picks. The default rules follow common library practice: exactly four digits, no digit
repeated four times, no repeated pair, none of the most common PINs. Longer PINs, letters,
ascending/descending runs and a site denylist file are options.

Every rule is a small predicate with its own message, so a rejection tells staff and patrons
which rule failed; no message ever repeats the PIN, nor quotes an example PIN that could be
the patron's own.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Final

from sip2d.config import PinPolicyConfig

# The most common four-digit PINs in published studies of leaked PIN sets, plus the usual
# six-digit favourites for sites that allow longer PINs.
BUILTIN_DENYLIST: Final = frozenset(
    {
        "1234", "1111", "0000", "1212", "7777", "1004", "2000", "4444", "2222", "6969",
        "9999", "3333", "5555", "6666", "1122", "1313", "8888", "4321", "2001", "1010",
        "1230", "2580", "0852", "1357", "2468", "1233", "0123", "1984", "1985", "1986",
        "1987", "1988", "1989", "1990", "2010", "2020", "5683", "0007", "1225", "1024",
        "123456", "111111", "000000", "123123", "654321", "666666", "121212", "112233",
        "696969", "159753", "147258", "123321", "12345678", "11111111", "00000000",
        "1234567890",
    }
)  # fmt: skip

# The PIN travels in a SIP2 variable field: a field delimiter or a control character in it
# could never be typed at a kiosk, and would corrupt a frame if echoed anywhere.
FORBIDDEN_CHARACTERS: Final = frozenset("|") | frozenset(chr(c) for c in range(32)) | {"\x7f"}


def _untranslated(text: str) -> str:
    return text


class PolicyError(Exception):
    """The policy configuration cannot be used (for example an unreadable denylist file)."""


@dataclasses.dataclass(frozen=True)
class PinPolicy:
    """A configured set of PIN rules. :meth:`check` returns why a PIN is refused, or None."""

    min_length: int = 4
    max_length: int = 4
    digits_only: bool = True
    reject_repeated_digit: bool = True
    reject_repeated_pair: bool = True
    reject_sequences: bool = False
    use_builtin_denylist: bool = True
    denylist: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if not 1 <= self.min_length <= self.max_length:
            raise PolicyError("pin_policy: need 1 <= min_length <= max_length")

    def __repr__(self) -> str:
        # The denylist may be long; its size is what matters in a log.
        fields = ", ".join(
            f"{f.name}={getattr(self, f.name)!r}"
            for f in dataclasses.fields(self)
            if f.name != "denylist"
        )
        return f"PinPolicy({fields}, denylist=<{len(self.denylist)} PINs>)"

    @classmethod
    def from_config(cls, cfg: PinPolicyConfig) -> PinPolicy:
        """The policy described by ``[pin_policy]``, reading ``denylist_file`` if set."""
        denylist: frozenset[str] = frozenset()
        if cfg.denylist_file:
            denylist = load_denylist(cfg.denylist_file)
        return cls(
            min_length=cfg.min_length,
            max_length=cfg.max_length,
            digits_only=cfg.digits_only,
            reject_repeated_digit=cfg.reject_repeated_digit,
            reject_repeated_pair=cfg.reject_repeated_pair,
            reject_sequences=cfg.reject_sequences,
            use_builtin_denylist=cfg.use_builtin_denylist,
            denylist=denylist,
        )

    def check(self, pin: str, translate: Callable[[str], str] = _untranslated) -> str | None:
        """None when ``pin`` is acceptable, else one sentence naming the rule it breaks.

        ``translate`` is a gettext function: the PIN page shows the sentence in the patron's
        language (the sentences are in the page's message catalogs).
        """
        t = translate
        chars = not self.digits_only
        if not self.min_length <= len(pin) <= self.max_length:
            if self.min_length == self.max_length:
                text = (
                    t("The PIN must be exactly {n} characters long.")
                    if chars
                    else t("The PIN must be exactly {n} digits long.")
                )
                return text.format(n=self.min_length)
            text = (
                t("The PIN must be {low} to {high} characters long.")
                if chars
                else t("The PIN must be {low} to {high} digits long.")
            )
            return text.format(low=self.min_length, high=self.max_length)
        if any(ch in FORBIDDEN_CHARACTERS for ch in pin):
            return t("The PIN must not contain control characters or a vertical bar.")
        if self.digits_only and not is_ascii_digits(pin):
            return t("The PIN must contain digits only.")
        if self.reject_repeated_digit and is_repeated_digit(pin):
            return (
                t("The PIN must not be the same character repeated.")
                if chars
                else t("The PIN must not be the same digit repeated.")
            )
        if self.reject_repeated_pair and is_repeated_pair(pin):
            return (
                t("The PIN must not be a pair of characters repeated.")
                if chars
                else t("The PIN must not be a pair of digits repeated.")
            )
        if self.reject_sequences and is_sequence(pin):
            return t("The PIN must not be a run of consecutive digits, up or down.")
        if self.use_builtin_denylist and pin in BUILTIN_DENYLIST:
            return t("The PIN is one of the most commonly used PINs; choose a less obvious one.")
        if pin in self.denylist:
            return t("The PIN is on this library's list of PINs that may not be used.")
        return None


def load_denylist(path: str) -> frozenset[str]:
    """One PIN per line; surrounding blanks and empty lines are ignored."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PolicyError(f"pin_policy.denylist_file: {path} not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not UTF-8 text"
        raise PolicyError(f"pin_policy.denylist_file: cannot read {path} ({reason})") from None
    return frozenset(line.strip() for line in text.splitlines() if line.strip())


def is_ascii_digits(pin: str) -> bool:
    # str.isdigit() accepts superscripts and other scripts' digits no kiosk keypad sends.
    return pin.isascii() and pin.isdigit()


def is_repeated_digit(pin: str) -> bool:
    """Every character the same (2222); a one-character PIN does not count."""
    return len(pin) > 1 and len(set(pin)) == 1


def is_repeated_pair(pin: str) -> bool:
    """Two alternating characters (1212, 121212, 12121) of at least four characters."""
    return len(pin) >= 4 and pin[0] != pin[1] and all(c == pin[i % 2] for i, c in enumerate(pin))


def is_sequence(pin: str) -> bool:
    """An ascending (1234) or descending (9876) run of digits, three or more long."""
    if len(pin) < 3 or not is_ascii_digits(pin):
        return False
    steps = {ord(b) - ord(a) for a, b in itertools.pairwise(pin)}
    return steps in ({1}, {-1})
