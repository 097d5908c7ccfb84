"""PIN policy: each rule on its own, the defaults, the denylist file, and a property over
generated configurations and PINs checked against independently written rules."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sip2d.auth.policy import BUILTIN_DENYLIST, PinPolicy, PolicyError
from sip2d.config import PinPolicyConfig

DEFAULT = PinPolicy.from_config(PinPolicyConfig())


@pytest.mark.parametrize("pin", ["4817", "0592", "9183", "7305"])
def test_default_accepts_ordinary_four_digit_pins(pin: str) -> None:
    assert DEFAULT.check(pin) is None


@pytest.mark.parametrize(
    ("pin", "rule"),
    [
        ("481", "exactly 4 digits"),
        ("48172", "exactly 4 digits"),
        ("", "exactly 4 digits"),
        ("48a7", "digits only"),
        ("４８１７", "digits only"),  # full-width digits: not what a keypad sends
        ("٤٨١٧", "digits only"),  # Arabic-Indic digits pass str.isdigit()
        ("2222", "same digit repeated"),
        ("0000", "same digit repeated"),
        ("4545", "pair of digits repeated"),
        ("1212", "pair of digits repeated"),
        ("1234", "most commonly used"),
        ("1004", "most commonly used"),
        ("6969", "pair of digits repeated"),
        ("4321", "most commonly used"),
        ("48|7", "vertical bar"),
        ("48\r7", "control characters"),
    ],
)
def test_default_rejects_with_the_rule_named(pin: str, rule: str) -> None:
    message = DEFAULT.check(pin)
    assert message is not None
    assert rule in message
    if len(pin) >= 3:
        assert pin not in message


def test_every_builtin_four_digit_entry_is_rejected_by_default() -> None:
    for pin in BUILTIN_DENYLIST:
        if len(pin) == 4:
            assert DEFAULT.check(pin) is not None, "a listed common PIN was accepted"


def test_sequences_rule_is_optional_and_covers_longer_runs() -> None:
    cfg = PinPolicyConfig(min_length=4, max_length=8, use_builtin_denylist=False)
    assert PinPolicy.from_config(cfg).check("9876") is None
    strict = PinPolicy.from_config(dataclasses.replace(cfg, reject_sequences=True))
    for run in ("1234", "9876", "345678", "87654321", "0123"):
        message = strict.check(run)
        assert message is not None and "consecutive digits" in message
    # Not runs: a wrap-around, a broken run, a step of two.
    for pin in ("8901", "1235", "2468"):
        assert strict.check(pin) is None


def test_length_range_and_letters() -> None:
    policy = PinPolicy.from_config(
        PinPolicyConfig(min_length=4, max_length=6, digits_only=False, use_builtin_denylist=False)
    )
    assert policy.check("ab3x") is None
    assert policy.check("ab3x9q") is None
    message = policy.check("ab3x9qz")
    assert message is not None and "4 to 6 characters" in message
    message = policy.check("xxxx")
    assert message is not None and "same character repeated" in message


def test_denylist_file(tmp_path: Path) -> None:
    listed = tmp_path / "deny.txt"
    listed.write_text("4817\n\n  0592  \n", encoding="utf-8")
    policy = PinPolicy.from_config(PinPolicyConfig(denylist_file=str(listed)))
    for pin in ("4817", "0592"):
        message = policy.check(pin)
        assert message is not None and "library's list" in message
    assert policy.check("9183") is None
    assert "denylist=<2 PINs>" in repr(policy)


def test_denylist_file_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match=r"denylist_file: .* not found"):
        PinPolicy.from_config(PinPolicyConfig(denylist_file=str(tmp_path / "missing.txt")))
    binary = tmp_path / "bin.txt"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(PolicyError, match="not UTF-8"):
        PinPolicy.from_config(PinPolicyConfig(denylist_file=str(binary)))


def test_bad_length_range_is_refused() -> None:
    with pytest.raises(PolicyError, match="min_length"):
        PinPolicy(min_length=6, max_length=4)


# --- property: an accepted PIN satisfies every enabled rule --------------------------------

DENY_EXTRA = frozenset({"5190", "88412", "qwerty"})


@st.composite
def policies(draw: st.DrawFn) -> PinPolicy:
    low = draw(st.integers(1, 8))
    high = draw(st.integers(low, 10))
    return PinPolicy(
        min_length=low,
        max_length=high,
        digits_only=draw(st.booleans()),
        reject_repeated_digit=draw(st.booleans()),
        reject_repeated_pair=draw(st.booleans()),
        reject_sequences=draw(st.booleans()),
        use_builtin_denylist=draw(st.booleans()),
        denylist=draw(st.sampled_from([frozenset(), DENY_EXTRA])),
    )


pins = st.one_of(
    st.text(alphabet="0123456789", max_size=12),
    st.text(alphabet="0123456789ab|\x00\r ٤", max_size=12),
    st.sampled_from(sorted(BUILTIN_DENYLIST | DENY_EXTRA)),
    st.builds(lambda d, n: d * n, st.sampled_from("0123456789x"), st.integers(1, 10)),
    st.builds(
        lambda p, n: (p * n)[: n + 3], st.sampled_from(["12", "90", "ab"]), st.integers(1, 8)
    ),
    st.builds(
        lambda start, n, up: ("0123456789" if up else "9876543210")[start : start + n],
        st.integers(0, 7),
        st.integers(3, 10),
        st.booleans(),
    ),
)


def _same_char(pin: str) -> bool:
    return len(pin) >= 2 and pin.count(pin[0]) == len(pin)


def _alternating_pair(pin: str) -> bool:
    if len(pin) < 4 or pin[0] == pin[1]:
        return False
    return pin[0::2] == pin[0] * len(pin[0::2]) and pin[1::2] == pin[1] * len(pin[1::2])


def _run(pin: str) -> bool:
    return (
        len(pin) >= 3
        and all(c in "0123456789" for c in pin)
        and (pin in "0123456789" or pin in "9876543210")
    )


@given(policy=policies(), pin=pins)
def test_accepted_pins_satisfy_every_enabled_rule(policy: PinPolicy, pin: str) -> None:
    message = policy.check(pin)
    if message is not None:
        assert message.endswith(".")
        if len(pin) >= 3 and pin.isascii() and pin.isdigit():
            assert pin not in message
        return
    assert policy.min_length <= len(pin) <= policy.max_length
    assert "|" not in pin and all(ord(c) >= 32 and c != "\x7f" for c in pin)
    if policy.digits_only:
        assert all(c in "0123456789" for c in pin)
    if policy.reject_repeated_digit:
        assert not _same_char(pin)
    if policy.reject_repeated_pair:
        assert not _alternating_pair(pin)
    if policy.reject_sequences:
        assert not _run(pin)
    if policy.use_builtin_denylist:
        assert pin not in BUILTIN_DENYLIST
    assert pin not in policy.denylist


@given(pin=st.text(max_size=20))
def test_default_accepts_only_four_ascii_digits_from_any_text(pin: str) -> None:
    if DEFAULT.check(pin) is None:
        assert len(pin) == 4 and all(c in "0123456789" for c in pin)
