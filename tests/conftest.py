"""Shared fixtures: a Harness (engine.testing) on the test database, in virtual time."""
import pytest

from engine.runtime import faults
from engine.testing import Harness


@pytest.fixture
def harness(db):
    with Harness() as h:
        yield h
    faults.clear()
