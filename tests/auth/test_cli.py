"""`sip2d auth`: gen-pepper file mode and refusal to overwrite, status, measure."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from click.testing import CliRunner

from sip2d.auth.hashing import Pepper
from sip2d.cli import main
from tests.auth.secret_scan import assert_secret_absent


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), env=env)
    return result.exit_code, result.output


def test_gen_pepper_writes_a_private_file_and_never_prints_the_key(tmp_path: Path) -> None:
    out = tmp_path / "sip2d.pepper"
    code, output = run("auth", "gen-pepper", "--out", str(out))
    assert code == 0, output
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    pepper = Pepper.from_file(out)
    assert f"key id {pepper.key_id}" in output
    assert_secret_absent(out.read_text().split()[2], output)


def test_gen_pepper_under_a_loose_umask_is_still_0600(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        assert run("auth", "gen-pepper", "--out", str(tmp_path / "p"))[0] == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "p").stat().st_mode) == 0o600


def test_gen_pepper_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    out = tmp_path / "sip2d.pepper"
    assert run("auth", "gen-pepper", "--out", str(out))[0] == 0
    before = out.read_text()
    code, output = run("auth", "gen-pepper", "--out", str(out))
    assert code == 1
    assert "already exists" in output and "--force" in output
    assert "Traceback" not in output
    assert out.read_text() == before, "the existing pepper must survive"

    code, output = run("auth", "gen-pepper", "--out", str(out), "--force")
    assert code == 0, output
    assert out.read_text() != before
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sip2d.pepper"], "no temp files left"


def test_gen_pepper_bad_directory_is_one_line(tmp_path: Path) -> None:
    code, output = run("auth", "gen-pepper", "--out", str(tmp_path / "no" / "such" / "p"))
    assert code == 1
    assert output.startswith("Error: cannot write") and output.count("\n") == 1


def write_config(tmp_path: Path, body: str) -> Path:
    config = tmp_path / "sip2d.toml"
    config.write_text(body)
    return config


def test_status_shows_key_ids_and_parameters(tmp_path: Path) -> None:
    current, old = tmp_path / "cur.pepper", tmp_path / "old.pepper"
    for path in (current, old):
        assert run("auth", "gen-pepper", "--out", str(path))[0] == 0
    config = write_config(
        tmp_path,
        f'[database]\nurl = "sqlite:///{tmp_path / "db.sqlite"}"\n'
        f'[auth]\npepper_file = "{current}"\nold_pepper_files = ["{old}"]\n'
        "[auth.argon2]\nmemory_kib = 64\ntime_cost = 1\n",
    )
    assert run("--config", str(config), "db", "upgrade")[0] == 0
    code, output = run("--config", str(config), "auth", "status")
    assert code == 0, output
    assert Pepper.from_file(current).key_id in output
    assert Pepper.from_file(old).key_id in output
    assert "m=64 KiB, t=1, p=1" in output
    for path in (current, old):
        assert_secret_absent(path.read_text().split()[2], output)


def test_status_without_pepper_is_a_clear_error(tmp_path: Path) -> None:
    config = write_config(tmp_path, "[auth]\npepper_env = 'NO_SUCH_SIP2D_VAR'\n")
    code, output = run("--config", str(config), "auth", "status")
    assert code == 1
    assert "gen-pepper" in output and "NO_SUCH_SIP2D_VAR" in output
    assert "Traceback" not in output


def test_measure_reports_the_chosen_profile(tmp_path: Path) -> None:
    # Only the (cheap) configured parameters: the named profiles cost real seconds.
    config = write_config(tmp_path, "[auth.argon2]\nmemory_kib = 64\ntime_cost = 1\n")
    args = ("--config", str(config), "auth", "measure", "--rounds", "2", "--profile")
    code, output = run(*args, "configured")
    assert code == 0, output
    (line,) = output.splitlines()
    assert line.startswith("configured") and "m=    64 KiB t=1 p=1" in line
    assert "ms per verify" in line
    code, output = run(*args, "huge")
    assert code == 2 and "huge" in output
