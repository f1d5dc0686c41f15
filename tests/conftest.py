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
