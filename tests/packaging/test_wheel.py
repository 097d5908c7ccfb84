"""#17 item 14: the built wheel installs and runs outside the repository.

The wheel is built from a copy of the source tree (``pip wheel --no-deps``, the same build an
operator's ``pip install`` runs), installed with ``--no-deps --no-index`` into a fresh venv in a
temporary directory, and run from there: ``sip2d serve --demo`` must migrate and seed its
database from the migrations and data shipped in the wheel and answer a kiosk login, and
``sip2d-conformance list`` must work. So the test needs no download beyond the build backend
pip already caches, the new venv sees the third-party dependencies of the running interpreter
through a ``.pth`` line (that line adds a directory, not its ``.pth`` files, so the repository's
editable install stays out of it); every import of sip2d or conformance is checked to come
from the venv.
"""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio

from sip2d.client import SipClient

REPO = Path(__file__).resolve().parents[2]
SKIP_DIRS = {".venv", ".git", "var", "build", "dist", ".mypy_cache", ".ruff_cache"}
SKIP_DIRS |= {".pytest_cache", ".hypothesis", "__pycache__"}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = tmp_path_factory.mktemp("source") / "sip2d"
    shutil.copytree(
        REPO,
        source,
        ignore=lambda _d, names: [n for n in names if n in SKIP_DIRS or n.endswith(".egg-info")],
    )
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(source)],
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("sip2d-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("venv") / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
    python = root / "bin" / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps",
         "--no-index", str(wheel)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    (site_packages,) = (root / "lib").glob("python3*/site-packages")
    (site_packages / "zz_dependencies.pth").write_text(
        "\n".join(p for p in site.getsitepackages() if p) + "\n", encoding="utf-8"
    )
    return root


def run(venv: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SIP2D_", "PYTHON"))}
    return subprocess.run(
        [str(venv / "bin" / args[0]), *args[1:]],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_the_wheel_carries_the_license_and_the_data_files(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert any(n.endswith(".dist-info/licenses/LICENSE") or n.endswith("/LICENSE") for n in names)
    assert "conformance/profiles/sip2d-demo.toml" in names
    assert any(n.startswith("sip2d/storage/migrations/versions/0001") for n in names)


def test_imports_come_from_the_venv(venv: Path, tmp_path: Path) -> None:
    code = "import sip2d, conformance; print(sip2d.__file__, conformance.__file__)"
    result = run(venv, "python", "-c", code, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    for path in result.stdout.split():
        assert path.startswith(str(venv)), path


def test_conformance_list_runs_from_the_wheel(venv: Path, tmp_path: Path) -> None:
    result = run(venv, "sip2d-conformance", "list", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "CX-01" in result.stdout


@pytest.fixture
def demo_server(venv: Path, tmp_path: Path) -> Iterator[int]:
    config = tmp_path / "sip2d.toml"
    config.write_text('[logging]\nformat = "json"\n', encoding="utf-8")
    process = subprocess.Popen(
        [str(venv / "bin" / "sip2d"), "--config", str(config), "serve", "--demo",
         "--demo-dir", str(tmp_path / "demo"), "--listen", "127.0.0.1:0"],
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    assert process.stderr is not None
    try:
        port = 0
        for line in iter(process.stderr.readline, ""):
            if '"event": "listening"' in line:
                port = json.loads(line)["port"]
                break
        assert port, "the demo server never listened"
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)
        process.stderr.close()


def test_serve_demo_runs_from_the_wheel(demo_server: int) -> None:
    async def login() -> bool:
        client = await SipClient.connect("127.0.0.1", demo_server)
        async with client:
            return await client.login("kiosk", "sip2demo")

    assert trio.run(login)


@pytest.mark.xfail(
    strict=True,
    reason="the conformance suite still installs as the top-level package `conformance`, a "
    "generic name another distribution may also use; renaming it touches every import of "
    "the suite (docs/ops/install.md, 'Package names')",
)
def test_only_project_named_packages_are_installed(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        (top_level,) = [n for n in archive.namelist() if n.endswith("top_level.txt")]
        names = set(archive.read(top_level).decode().split())
    assert names <= {"sip2d", "sip2d_conformance"}, names


def test_make_serve_installs_only_what_serving_needs() -> None:
    result = subprocess.run(
        ["make", "-n", "-B", "serve"], cwd=REPO, capture_output=True, text=True, check=True
    )
    installs = [line for line in result.stdout.splitlines() if "pip install" in line]
    assert installs, result.stdout
    assert all("[dev]" not in line and "dev" not in line.split("install")[1] for line in installs)
    assert "sip2d serve --demo" in result.stdout
