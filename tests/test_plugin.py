"""The twistd plugin: installed by pip, listed by twistd, and serving a site as a real process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.request
import zipfile
from pathlib import Path

import pytest
from conftest import REPO, start_server, write_site

TWISTD = str(Path(sys.executable).parent / "twistd")


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """krait installed with pip (no dependencies: they are in this environment already)."""
    target = tmp_path_factory.mktemp("installed")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--target",
            str(target),
            str(REPO),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return target


def test_wheel_ships_the_plugin_without_shadowing_twisted(installed: Path) -> None:
    assert (installed / "twisted" / "plugins" / "krait_plugin.py").is_file()
    assert not (installed / "twisted" / "__init__.py").exists()
    assert not (installed / "twisted" / "plugins" / "__init__.py").exists()
    assert (installed / "krait" / "py.typed").is_file()


def test_twistd_lists_krait_after_pip_install(installed: Path, tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(installed))
    done = subprocess.run(
        [TWISTD, "--help"], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60
    )
    assert done.returncode == 0
    assert "krait" in done.stdout
    help_text = subprocess.run(
        [TWISTD, "krait", "--help"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    ).stdout
    for option in (
        "--site",
        "--listen",
        "--https",
        "--certificate",
        "--privkey",
        "--threads",
        "--access-log",
        "--debug",
        "--port",
        "--interface",
        "--single-process",
    ):
        assert option in help_text


def test_pip_install_makes_the_krait_command(installed: Path, tmp_path: Path) -> None:
    krait = installed / "bin" / "krait"
    env = dict(os.environ, PYTHONPATH=str(installed))
    help_text = subprocess.run(
        [str(krait), "--help"], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60
    ).stdout
    assert "-p, --port=" in help_text and "--stdout=" in help_text
    refused = subprocess.run(
        [str(krait), "-p", "8080", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert refused.returncode == 10


def test_twistd_krait_serves_a_site(tmp_path: Path) -> None:
    site = write_site(tmp_path / "site", {"index.html": "served by twistd"})
    server = start_server(site, tmp_path / "log", twistd=True)
    try:
        assert urllib.request.urlopen(server.url + "/").read() == b"served by twistd"
    finally:
        # twistd re-raises the signal it stopped on, so its status says "terminated by SIGTERM".
        assert server.stop() in (0, -signal.SIGTERM)
    assert "Traceback" not in server.stderr() + server.stdout()


def test_twistd_krait_reports_a_broken_site_without_traceback(tmp_path: Path) -> None:
    site = write_site(tmp_path / "site", {".py/init.py": "raise ValueError('nope')\n"})
    env = dict(os.environ, PYTHONPATH=str(REPO))
    done = subprocess.run(
        [TWISTD, "-n", "--pidfile=", "krait", "--site", str(site)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert done.returncode != 0
    output = done.stdout + done.stderr
    assert "init.py:1" in output and "ValueError: nope" in output
    assert "Traceback" not in output


def test_wheel_contents(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(REPO)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("krait_server-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "twisted/plugins/krait_plugin.py" in names
    assert any(name.endswith(".dist-info/licenses/LICENSE") for name in names)
    assert not any(name.startswith("tests/") or name.startswith("site_demo/") for name in names)
