"""System checks: a DATP setting that is a time and holds garbage, a negative time, or more than a
datetime (or a wait) can hold stops start-up with datp.E001 naming the setting; a count that is not a
whole number of at least 1, with datp.E002."""
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from engine.checks import count_settings, time_settings

BAD = [
    ("MAX_WAIT", "P1000000Y"), ("MAX_WAIT", "-PT1S"), ("MAX_WAIT", "thirty seconds"),
    ("MAX_WAIT", "P1000Y"),  # past what a wait can hold
    ("RETENTION", "P9000Y"), ("RETENTION", "P1.5Y"), ("RETENTION", "forever"),
    ("LEASE_SECONDS", 0), ("LEASE_SECONDS", "abc"), ("STANDBY_SECONDS", float("inf")),
    ("SWITCH_FALLBACK_SECONDS", -1), ("DEFAULT_RETRY_LATER_SECONDS", 1e20), ("NODE_GONE_SECONDS", float("nan")),
    ("SHORT_SLEEP_SECONDS", True), ("WEBHOOK_TIMEOUT_SECONDS", "10"),
]


def errors_with(settings, name, value):
    settings.DATP = {**settings.DATP, name: value}
    return time_settings()


@pytest.mark.parametrize("name, value", BAD, ids=[f"{name}={value!r}" for name, value in BAD])
def test_a_bad_time_setting_is_a_system_check_error_naming_the_setting(settings, name, value):
    errors = errors_with(settings, name, value)
    assert [(error.id, error.level >= 40) for error in errors] == [("datp.E001", True)]
    assert errors[0].msg.startswith(f"DATP_{name} (DATP['{name}'])")


@pytest.mark.parametrize("name, value", [("MAX_WAIT", "PT30S"), ("MAX_WAIT", "P1D"), ("RETENTION", ""),
                                         ("RETENTION", "P30D"), ("SHORT_SLEEP_SECONDS", 0), ("LEASE_SECONDS", 0.5),
                                         ("STANDBY_SECONDS", 86400)])
def test_a_good_time_setting_passes(settings, name, value):
    assert errors_with(settings, name, value) == []


def test_the_defaults_pass():
    assert time_settings() == []


def test_manage_py_check_stops_on_a_bad_setting(settings):
    settings.DATP = {**settings.DATP, "MAX_WAIT": "P1000000Y"}
    with pytest.raises(SystemCheckError, match="DATP_MAX_WAIT"):
        call_command("check")


def test_a_bad_environment_variable_stops_the_wsgi_entry_point_naming_it():
    env = {"DATP_LEASE_SECONDS": "soon", "DJANGO_SETTINGS_MODULE": "datp_site.settings", "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", "import datp_site.wsgi"], env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode != 0
    assert "datp.E001" in done.stderr and "DATP_LEASE_SECONDS" in done.stderr


COUNTS = [("MAX_ATTEMPTS", 0), ("MAX_ATTEMPTS", "three"), ("MAX_PAYLOAD_BYTES", -1), ("BULK_INLINE_MAX", 2.5),
          ("BULK_BATCH", True)]


@pytest.mark.parametrize("name, value", COUNTS, ids=[f"{name}={value!r}" for name, value in COUNTS])
def test_a_bad_count_setting_is_a_system_check_error_naming_the_setting(settings, name, value):
    settings.DATP = {**settings.DATP, name: value}
    errors = count_settings()
    assert [(error.id, error.level >= 40) for error in errors] == [("datp.E002", True)]
    assert errors[0].msg.startswith(f"DATP_{name} (DATP['{name}'])")


def test_the_default_counts_pass():
    assert count_settings() == []


def test_a_count_environment_variable_that_is_no_number_stops_start_up_naming_it():
    env = {"DATP_MAX_ATTEMPTS": "many", "DJANGO_SETTINGS_MODULE": "datp_site.settings", "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "manage.py", "check"], env=env, capture_output=True, text=True,
                          timeout=60, cwd=Path(__file__).resolve().parents[2])
    assert done.returncode != 0
    assert "datp.E002" in done.stderr and "DATP_MAX_ATTEMPTS" in done.stderr
