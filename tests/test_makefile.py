"""The Makefile's options: make run PORT=... and ADDRESS=... (issue 17), read from make's dry run."""
import subprocess
from pathlib import Path

import pytest


ROOT = Path(__file__).resolve().parent.parent


def run_command(*variables):
    done = subprocess.run(["make", "-n", "-o", ".venv/.installed", "run", *variables],
                          cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return " ".join(line for line in done.stdout.splitlines() if "datp_run" in line or "--address" in line)


@pytest.mark.parametrize("variables, address", [((), "127.0.0.1:8000"), (("PORT=8001",), "127.0.0.1:8001"),
                                                (("ADDRESS=0.0.0.0:9000",), "0.0.0.0:9000")])
def test_make_run_serves_on_the_port_or_address_given(variables, address):
    assert f"--address {address}" in run_command(*variables)
