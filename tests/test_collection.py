"""Plain `pytest` in this project collects the tests of an app a user adds beside engine/ (issue 17: no
testpaths), and none under var/, examples/ (run against the built wheel: make example) or bench/."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_a_users_app_tests_are_collected_and_the_excluded_folders_are_not(tmp_path):
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    for folder in ("tests", "tests/docs", "acme/tests", "var/cache", "examples/shop", "bench", "node_modules/x"):
        (tmp_path / folder).mkdir(parents=True)
        name = folder.replace("/", "_")  # names apart: these folders are no packages
        (tmp_path / folder / f"test_{name}.py").write_text("def test_here():\n    assert True\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    done = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert [line for line in done.stdout.splitlines() if "::" in line] == [
        "acme/tests/test_acme_tests.py::test_here", "tests/docs/test_tests_docs.py::test_here",
        "tests/test_tests.py::test_here"]
