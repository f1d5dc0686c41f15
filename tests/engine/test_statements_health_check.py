"""A request's first statement, when it only reads (the API key's lookup), stands in for Django's health check
(CONN_HEALTH_CHECKS: a `SELECT 1` before a request's first query): one round trip less, and a connection the
server cut is still replaced before the request fails."""
import pytest
from django.db import connection, connections

from engine.services import statements

pytestmark = pytest.mark.postgres_only  # prepared statements and pg_backend_pid: PostgreSQL only

PID = "SELECT pg_backend_pid()"


@pytest.fixture
def health_checked(transactional_db):
    """The default connection with health checks on, as datp_site's settings have them, and one due."""
    connection.ensure_connection()
    enabled = connection.health_check_enabled
    connection.health_check_enabled = True
    yield connection
    connection.health_check_enabled = enabled


def _due():
    connection.health_check_done = False


def test_a_read_only_statement_is_the_health_check_on_a_sound_connection(health_checked, monkeypatch):
    checks = []
    monkeypatch.setattr(type(connections["default"]), "is_usable", lambda self: checks.append(1) or True)
    _due()
    (pid,) = statements.rows(PID, {}, read_only=True)[0]
    assert checks == [] and connection.health_check_done
    _due()
    assert statements.rows(PID, {})[0] == (pid,)
    assert checks == [1]  # a statement that may write still waits for Django's own check


def test_a_read_only_statement_on_a_cut_connection_runs_again_on_a_new_one(health_checked):
    (before,) = statements.rows(PID, {})[0]
    other = connections.create_connection("default")
    try:
        other.ensure_connection()
        with other.cursor() as cursor:  # the server ends the backend, as a restart would
            cursor.execute("SELECT pg_terminate_backend(%s)", [before])
    finally:
        other.close()
    _due()
    (after,) = statements.rows(PID, {}, read_only=True)[0]
    assert after != before and connection.health_check_done


def test_a_failure_of_a_sound_connection_is_not_retried(health_checked):
    from django.db import ProgrammingError

    _due()
    with pytest.raises(ProgrammingError):
        statements.rows("SELECT FROM no_such_table", {}, read_only=True)
    assert not connection.connection.broken
