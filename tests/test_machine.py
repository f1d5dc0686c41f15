"""`make test`'s set-up (tests/machine.py): what it does when a Debian package is missing."""
import subprocess

import pytest

from tests import machine


@pytest.fixture
def chromium_missing(monkeypatch):
    monkeypatch.setitem(machine.PACKAGES, "chromium", lambda: False)
    calls = []
    monkeypatch.setattr(machine.subprocess, "run", lambda command, **kw: calls.append(command) or
                        subprocess.CompletedProcess(command, 1))
    return calls


def test_a_user_who_cannot_install_is_told_the_one_command_to_run(chromium_missing, monkeypatch):
    monkeypatch.setattr(machine.os, "geteuid", lambda: 1000)
    with pytest.raises(SystemExit) as stop:
        machine.ensure_packages()
    assert "sudo apt-get install -y chromium" in str(stop.value)
    assert not any(command[:2] == ["apt-get", "install"] for command in chromium_missing)


def test_root_installs_only_the_missing_packages_with_apt_get(chromium_missing, monkeypatch):
    monkeypatch.setattr(machine.os, "geteuid", lambda: 0)
    with pytest.raises(SystemExit) as stop:  # the fake apt-get installs nothing, so it is still missing
        machine.ensure_packages()
    assert "chromium is still missing" in str(stop.value)
    installs = [command for command in chromium_missing if command[:2] == ["apt-get", "install"]]
    assert installs == [["apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium"]]


def test_a_postgresql_database_url_is_used_as_it_is(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://someone@db.example:5432/datp")
    monkeypatch.setattr(machine, "PrivatePostgres", lambda: pytest.fail("no private cluster is needed"))
    with machine.postgres_url() as url:
        assert url == "postgresql://someone@db.example:5432/datp"
