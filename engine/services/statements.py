"""The hot path's statements on PostgreSQL: bound server-side and prepared once per connection (on SQLite, the
run core's plain statements: `run_paths`).

Django's psycopg cursors bind parameters on the client, so PostgreSQL parses and plans every execution
again, and the ORM compiles its SQL in Python each time. The start, the claim, the checkpoints and the
finish run a few times per transaction with the same text: here they go through a cursor that binds on
the server and prepares each text once per connection. They still run on Django's connection, in its
transaction and atomic blocks, wrapped by its cursor wrapper, so database errors arrive as Django's
(IntegrityError, OperationalError) and test query captures see them.

`DATP["PREPARED_STATEMENTS"] = False` turns preparing off (a pooler in transaction mode that does not
track prepared statements); the statements then still bind on the server.
"""
import json

import psycopg
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connection, connections
from psycopg import pq
from psycopg.types.json import Jsonb

from engine import conf

NEVER_BY_COUNT = 2**31


class _PreparedCursor(psycopg.Cursor):
    prepare = True

    def execute(self, query, params=None, *, prepare=None, binary=None):
        return super().execute(query, params, prepare=self.prepare if prepare is None else prepare, binary=binary)


def is_postgres():
    return connection.vendor == "postgresql"


def fast_paths():
    """Return whether the transitions take their one-statement paths: on PostgreSQL, unless DATP["FAST_PATHS"]
    is False (then the general paths run there too, which is how the two are compared)."""
    return connection.vendor == "postgresql" and conf.get("FAST_PATHS")


def run_paths():
    """Return whether the run core's claim, advance and finish take their fast paths: on PostgreSQL (one
    statement each) and on SQLite (a few plain statements in one database transaction, engine.services.state
    .lite), unless DATP["FAST_PATHS"] is False. The other transitions' fast paths are PostgreSQL's alone."""
    return connection.vendor in ("postgresql", "sqlite") and conf.get("FAST_PATHS")


def is_sqlite():
    return connection.vendor == "sqlite"


def sql_values(values):
    """Format `values` (plain strings such as statuses) as a parenthesised SQL list: ('a', 'b')."""
    return "(" + ", ".join(f"'{value}'" for value in values) + ")"


def rows(sql, params, *, read_only=False):
    """Execute `sql` (with %(name)s parameters) on the default connection; return its rows as tuples.

    `read_only`: the statement changes nothing, so when it is a request's first (Django's health check is due:
    CONN_HEALTH_CHECKS) it stands in for the check's own `SELECT 1`, one round trip less: it runs at once and,
    if the connection turns out broken (the server restarted, the connection was cut), runs again on a new one,
    as the check would have connected anew before it.
    On SQLite through Django's own cursor (its module caches each text's prepared statement)."""
    db = connections[DEFAULT_DB_ALIAS]  # the thread's connection, looked up once (each `connection.x` looks it up)
    if db.vendor == "sqlite":
        with db.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall() if cursor.description is not None else []
    if read_only and _health_check_due(db):
        db.health_check_done = True
        try:
            return _rows(db, sql, params)
        except DatabaseError:
            if not _broken(db):
                raise
            db.close()
    db.close_if_health_check_failed()
    return _rows(db, sql, params)


def _health_check_due(db):
    return (db.connection is not None and db.health_check_enabled and not db.health_check_done
            and not db.in_atomic_block and not getattr(db, "pool", None))


def _broken(db):
    raw = db.connection
    return raw is None or raw.closed or raw.broken


def _rows(db, sql, params):
    db.ensure_connection()
    with db.wrap_database_errors:
        raw = _PreparedCursor(db.connection)
        raw.prepare = bool(conf.get("PREPARED_STATEMENTS"))
        if raw.prepare and db.connection.prepare_threshold is None:
            # Django turns psycopg's preparing off (None), which refuses even prepare=True; a threshold
            # no query reaches lets only these statements be prepared (Django's own cursors bind on the
            # client and are never prepared).
            db.connection.prepare_threshold = NEVER_BY_COUNT
        cursor = db._prepare_cursor(raw)
    with cursor:
        cursor.execute(sql, params)
        found = cursor.fetchall() if _has_rows(raw.pgresult) else []
    if db.queries_logged and db.queries_log and db.queries_log[-1]["sql"] is None:
        db.queries_log[-1]["sql"] = _rendered(sql, params)  # Django cannot render a prepared one
    return found


def _has_rows(result):
    """Whether a statement returned a result set (psycopg's `description is not None`, without building the
    description's columns)."""
    return bool(result) and (result.nfields or result.status == pq.ExecStatus.TUPLES_OK)


def _rendered(sql, params):
    """Return the statement with its parameters in place, as Django logs its own queries (EXPLAIN-able)."""
    try:
        return connection.ops.compose_sql(sql, params)
    except Exception:  # noqa: BLE001 - a log line must never fail the statement it describes
        return sql


def jsonb(value):
    """Wrap `value` as a JSON parameter (None stays SQL NULL)."""
    return None if value is None else Jsonb(value)


def iso(moment):
    """A datetime as JSON for a statement's jsonb parameter (read back as timestamptz), None as null."""
    return None if moment is None else moment.isoformat()


def loads(text):
    """Decode a jsonb column as read here (Django registers a text loader for jsonb)."""
    return None if text is None else json.loads(text)
