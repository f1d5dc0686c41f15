"""The transaction and step-run tables leave room on their pages (PostgreSQL) so that a checkpoint that goes
on, and a step run's end, can be HOT updates (no index entries written): migration 0013."""
import pytest
from django.db import connection


@pytest.mark.postgres_only
@pytest.mark.django_db
def test_the_checkpointed_tables_leave_room_for_their_rows_next_versions():
    with connection.cursor() as cursor:
        cursor.execute("SELECT relname, reloptions FROM pg_class WHERE relname IN ('engine_transaction', "
                       "'engine_steprun') ORDER BY relname")
        assert cursor.fetchall() == [("engine_steprun", ["fillfactor=80"]), ("engine_transaction", ["fillfactor=70"])]


@pytest.mark.postgres_only
@pytest.mark.django_db
def test_a_checkpoint_that_goes_on_changes_no_indexed_column_of_the_transaction():
    """HOT needs it: no index of engine_transaction names a column the one-statement advance sets."""
    from engine.services.state.advance import CHECKPOINT_SQL

    set_clause = CHECKPOINT_SQL.split("UPDATE engine_transaction t SET", 1)[1].split("FROM x", 1)[0]
    written = {part.split("=")[0].strip() for part in set_clause.split(",")}
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE tablename = 'engine_transaction'")
        indexes = [row[0] for row in cursor.fetchall()]
    assert written == {"step_name", "visit", "visit_started_at", "retry_count", "attempt", "lease_expires_at",
                       "updated_at", "step_seq"}
    assert [index for index in indexes if any(column in index for column in written)] == []
