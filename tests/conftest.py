"""Shared fixtures: a Harness (engine.testing) on the test database, in virtual time."""
import pytest

from engine.runtime import faults
from engine.testing import Harness


@pytest.fixture
def harness(db):
    with Harness() as h:
        yield h
    faults.clear()


@pytest.fixture(autouse=True)
def _fast_paths_for_their_own_tests(request):
    """A test marked fast_paths checks the one-statement paths themselves: it turns them on, so that the
    pass with DATP_FAST_PATHS=false (make test-postgres-general) runs everything else on the general paths."""
    if request.node.get_closest_marker("fast_paths"):
        settings = request.getfixturevalue("settings")
        settings.DATP = {**settings.DATP, "FAST_PATHS": True}


def pytest_sessionfinish(session, exitstatus):
    """A skipped test fails the run: a test that cannot run here is deselected by its marker (postgres_only on
    SQLite), or it fails and says what is missing; it never passes by not running."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter is not None else []
    if skipped and exitstatus == pytest.ExitCode.OK:
        reporter.write_line(f"{len(skipped)} test(s) skipped: a skip fails the run here (mark the test for the "
                            "databases it needs, or let it fail saying what is missing)", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
