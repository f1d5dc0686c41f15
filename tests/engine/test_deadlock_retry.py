"""A service aborted by PostgreSQL as a deadlock victim runs again (a cancelled parent against its finishing child)."""
import pytest
from django.db import OperationalError

from engine.services.common import retry_on_deadlock


class Victim(Exception):
    def __init__(self, sqlstate):
        self.sqlstate = sqlstate


def aborted(sqlstate):
    error = OperationalError("aborted")
    error.__cause__ = Victim(sqlstate)
    return error


def test_a_service_chosen_as_deadlock_victim_runs_again_and_returns_its_result():
    calls = []

    @retry_on_deadlock
    def service():
        calls.append(1)
        if len(calls) < 3:
            raise aborted("40P01")
        return "done"

    assert service() == "done"
    assert len(calls) == 3


def test_other_database_errors_and_endless_deadlocks_are_raised():
    @retry_on_deadlock
    def broken():
        raise aborted("08006")

    @retry_on_deadlock
    def always():
        raise aborted("40P01")

    with pytest.raises(OperationalError):
        broken()
    with pytest.raises(OperationalError):
        always()
