"""#17 item 15: the shipped systemd unit passes `systemd-analyze verify` and keeps its promises.

The unit names ``/opt/sip2d/bin/sip2d`` (the documented install); verify checks that the
command exists, so the test points ExecStart at this environment's ``sip2d`` and changes
nothing else.
"""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parents[2] / "contrib" / "systemd" / "sip2d.service"


def service_section() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    section = ""
    for line in UNIT.read_text(encoding="utf-8").splitlines():
        if line.startswith("["):
            section = line.strip("[]")
        elif "=" in line and not line.startswith("#") and section == "Service":
            key, _, value = line.partition("=")
            found.setdefault(key, []).append(value)
    return found


def test_unit_runs_as_a_dedicated_user_hardened_and_reloads_with_sighup() -> None:
    service = service_section()
    assert service["User"] == ["sip2d"] and service["Group"] == ["sip2d"]
    assert service["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    assert service["ExecStart"][0].endswith(" serve")
    for key, value in (("NoNewPrivileges", "yes"), ("ProtectSystem", "strict"),
                       ("ProtectHome", "yes"), ("PrivateTmp", "yes"), ("CapabilityBoundingSet", ""),
                       ("RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX")):  # fmt: skip
        assert service[key] == [value], key


def test_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed on this machine (package systemd)")
    sip2d = Path(sys.executable).parent / "sip2d"
    assert sip2d.exists(), "sip2d is installed next to the test interpreter"
    unit = tmp_path / "sip2d.service"
    unit.write_text(
        UNIT.read_text(encoding="utf-8").replace("/opt/sip2d/bin/sip2d", str(sip2d)),
        encoding="utf-8",
    )
    result = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "sip2d.service" not in result.stderr, result.stderr


def test_unit_is_plain_ini() -> None:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.read_string(UNIT.read_text(encoding="utf-8"))
    assert parser.sections() == ["Unit", "Service", "Install"]
