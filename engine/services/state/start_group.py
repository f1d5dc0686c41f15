"""Group commit of starts: concurrent starts in one process share a statement and a commit (PostgreSQL).

A start that finds no other start of its process writing becomes the leader and writes its row at once, alone,
with the one-row statement (`start.insert`): a lone start never waits. Starts that arrive while a leader
writes queue up; when it is done, the first of them leads and writes all the queued rows in one statement
(`INSERT_MANY_SQL`) and one commit, and wakes the others. So under load rows are written in groups whose size
is set by the arrival rate and the statement's time, with no timer, and each start still returns only after
its own row is committed.

A row the group statement did not write (its pipeline was published since this process read it, or its
external id or id is taken) is written by its own start again through the one-row path, which decides as
it always does (StalePipeline, a replay, DuplicateExternalId). Starts inside an atomic block (a host's
own transaction, a test) never join a group: their row must commit with that block.
"""
import logging
import threading
from datetime import datetime

from django.db import connection
from django.db.models import JSONField

from engine import conf, notices
from engine.models import Transaction
from engine.services import statements

logger = logging.getLogger(__name__)

INSERT_MANY_SQL = """
WITH r AS MATERIALIZED (
    SELECT * FROM ROWS FROM (jsonb_to_recordset(%(checks)s) AS (
        id text, check_name text, check_version text, check_type boolean, check_node_group text, actor text,
        data jsonb)) WITH ORDINALITY AS r(id, check_name, check_version, check_type, check_node_group, actor, data,
                                          arrived)
), tx AS (
    -- In the order the starts arrived, so that of two with one external id the first is written, as one at a
    -- time; the other is not, and its start decides alone (a replay, or a duplicate).
    INSERT INTO engine_transaction
    SELECT t.* FROM jsonb_populate_recordset(NULL::engine_transaction, %(rows)s) AS t JOIN r ON r.id = t.id
     WHERE r.check_name IS NULL OR EXISTS (
           SELECT FROM engine_pipeline p WHERE p.name = r.check_name AND p.current_version_id = r.check_version
              AND p.transaction_type = r.check_type AND p.node_group_id IS NOT DISTINCT FROM r.check_node_group)
     ORDER BY r.arrived
    ON CONFLICT DO NOTHING
    RETURNING id, node_group_id, created_at
), journaled AS (
    INSERT INTO engine_journalentry (tx_id, at, kind, actor, step, data)
    SELECT tx.id, tx.created_at, 'created', r.actor, NULL, r.data FROM tx JOIN r ON r.id = tx.id
)
SELECT tx.id, CASE WHEN %(notify)s THEN pg_notify(%(channel)s, tx.node_group_id) END FROM tx
"""


def joins_group():
    """Whether a start here may share its commit: PostgreSQL's fast paths, group commit on, no atomic block."""
    return statements.fast_paths() and conf.get("GROUP_COMMIT") and not connection.in_atomic_block


class _Start:
    def __init__(self, tx, actor, created):
        self.tx, self.actor, self.created = tx, actor, created
        self.done = threading.Event()
        self.leads = False
        self.written = False


class Group:
    """The starts of one process waiting to be written (see the module's docstring)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._queued = []
        self._writing = False

    def insert(self, tx, *, actor, created, alone):
        """Write `tx` (a row of `new_transaction`) in a group, or alone when no other start is writing: `alone(tx)`
        writes it (the one-row statement). Return whether the row was written; if not, the caller writes it
        alone, which decides what stopped it."""
        start = _Start(tx, actor, created)
        with self._lock:
            if self._writing:
                self._queued.append(start)
            else:
                self._writing = True
                start.leads = True
        if not start.leads:
            start.done.wait()
            if not start.leads:
                return start.written
            with self._lock:
                group, self._queued = [start, *self._queued], []
            if len(group) > 1:
                return self._lead(group)
        try:
            alone(tx)
        finally:
            self._hand_over()
        return True

    def _lead(self, group):
        try:
            written = _insert_many(group)
        except Exception as exc:  # noqa: BLE001 - each start then writes its row alone and meets the error itself
            logger.warning("a group of %d starts was not written (%s): each is written alone", len(group), exc)
            written = set()
        finally:
            self._hand_over()
        for start in group[1:]:
            start.written = start.tx.pk in written
            start.done.set()
        return group[0].tx.pk in written

    def _hand_over(self):
        """Let the first queued start lead the next group, or stop writing."""
        with self._lock:
            if not self._queued:
                self._writing = False
                return
            successor = self._queued.pop(0)
        successor.leads = True
        successor.done.set()


def _insert_many(group):
    """Write the starts of `group` in one statement: the ids of the rows written."""
    rows, checks = [], []
    for start in group:
        tx = start.tx
        rows.append({field.column: _json_value(field, getattr(tx, field.attname))
                     for field in Transaction._meta.concrete_fields})
        pipeline = getattr(tx, "_datp_pipeline", None) or {}
        checks.append({"id": tx.pk, "check_name": pipeline.get("name"),
                       "check_version": pipeline.get("current_version_id"),
                       "check_type": pipeline.get("transaction_type"), "check_node_group": pipeline.get("node_group_id"),
                       "actor": start.actor, "data": start.created})
    found = statements.rows(INSERT_MANY_SQL, {"rows": statements.jsonb(rows), "checks": statements.jsonb(checks),
                                              "notify": notices.sends_notices(), "channel": notices.WORK_CHANNEL})
    written = {tx_id for tx_id, _ in found}
    for start in group:
        if start.tx.pk in written:
            start.tx._state.adding = False
            start.tx._state.db = "default"
    return written


def _json_value(field, value):
    if value is None or isinstance(field, JSONField):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    return value


group = Group()
