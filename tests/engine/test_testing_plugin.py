"""The pytest plugin (engine/testing_plugin.py): a host project's tests, with only its settings named, run
the engine in-process and get the `harness` fixture, with plain `pytest` in their own folder."""
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

HOST_TEST = '''
from django.conf import settings
from django_q.conf import Conf


def test_the_engine_runs_in_process_and_a_pipeline_runs_to_its_end(harness):
    assert settings.DATP["DISPATCHER"] == "inline" and Conf.SYNC is True
    harness.load({"name": "hello", "steps": [{"name": "set", "type": "util/set", "config": {"values": {"hi": 1}}}]})
    assert harness.run(harness.start("hello", {})).status == "success"
'''


def run_pytest(folder, *ini_lines):
    (folder / "pytest.ini").write_text("\n".join(["[pytest]", "DJANGO_SETTINGS_MODULE = datp_site.settings",
                                                   *ini_lines]) + "\n")
    (folder / "test_host.py").write_text(textwrap.dedent(HOST_TEST))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DATP_VAR_DIR": str(folder / "var"), "DATP_DISPATCHER": "django_q"}
    for name in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE"):  # the ini names the settings, as in a host project
        env.pop(name, None)
    # -p no:datp: the installed entry point, if any, gives way to this worktree's module.
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:datp",
                           "-p", "engine.testing_plugin", str(folder)],
                          cwd=folder, env=env, capture_output=True, text=True, timeout=120)


def test_a_host_projects_test_gets_the_harness_and_the_engine_in_process(tmp_path):
    done = run_pytest(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout


def test_the_in_process_switch_can_be_turned_off(tmp_path):
    done = run_pytest(tmp_path, "datp_in_process = false")
    assert done.returncode == 1 and "DISPATCHER" in done.stdout
