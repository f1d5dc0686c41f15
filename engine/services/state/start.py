"""A transaction begins: its row, queued at the current version of its pipeline, with its "created"
journal entry and the work notice, in one statement on PostgreSQL (`insert`); many of them in a few
statements, one notice per node group (`insert_rows`: a fan-out's children, a bulk start).

`new_transaction` builds the row (the pipeline and version in use, the deadline); the API's start
(`engine.services.transactions`) and a step's child (`engine.services.children`) both insert with it.

A start on the fast path (PostgreSQL) builds its row from the pipeline row it read last in this process
(`cached=True`) and its insert checks, in the same statement, that the pipeline still has that version, node
group and type; when it does not (a publish since), the insert writes nothing and raises StalePipeline, and
the caller starts again from a fresh read. So a start is one statement, and never uses a version that was
no longer current when its row was written.
"""
import difflib
from datetime import datetime
from functools import partial

from django.db import connection, transaction

from engine import durations, notices
from engine.errors import UnknownTransactionType
from engine.models import JournalEntry, Pipeline, Transaction
from engine.services import statements
from engine.services.common import dispatch_on_commit, journal, new_tx_id
from engine.services.runs import definition_of
from engine.services.state import start_group
from engine.states import TxStatus

PIPELINE_COLUMNS = ("name", "transaction_type", "node_group_id", "current_version_id")
PIPELINE_SQL = f"SELECT {', '.join(PIPELINE_COLUMNS)} FROM engine_pipeline WHERE name = %(name)s"


_pipelines = {}  # name -> the row `_pipeline` read last in this process (fast path only: see the docstring)


class StalePipeline(Exception):
    """The pipeline row a start took from this process's cache has changed since: nothing was written."""


def _pipeline(name):
    """Return what a start needs of pipeline `name` (a prepared statement on PostgreSQL, a plain one on SQLite:
    the ORM's compiling was a third of a start's time there), or None."""
    if statements.is_postgres() or statements.is_sqlite():
        found = statements.rows(PIPELINE_SQL, {"name": name})
        row = dict(zip(PIPELINE_COLUMNS, found[0])) if found else None
        if row is None:
            _pipelines.pop(name, None)
        else:
            _pipelines[name] = row
        return row
    return Pipeline.objects.filter(name=name).values(*PIPELINE_COLUMNS).first()


class Pipelines(dict):
    """What a start needs of each pipeline among some names ({name: row}), read in one query, and the names of
    the startable ones, read once when a name is not startable: for many starts naming few pipelines."""

    def __init__(self, names):
        found = Pipeline.objects.filter(name__in=[name for name in set(names) if isinstance(name, str)])
        super().__init__((row["name"], row) for row in found.values(*PIPELINE_COLUMNS))
        self._startable = None

    def startable_names(self):
        if self._startable is None:
            self._startable = _startable_names()
        return self._startable


def _startable_names():
    names = Pipeline.objects.filter(transaction_type=True, current_version__isnull=False)
    return sorted(names.values_list("name", flat=True))


def unknown_type_message(name, pipeline, startable_names=_startable_names):
    """Say why `name` cannot start a transaction: a child-only pipeline, or no such type (and the startable
    type it is close to, among `startable_names()`)."""
    if pipeline is not None and pipeline["current_version_id"] is not None:
        return (f"`{name}` is a child-only pipeline: start it from a parent's step (util/child-pipeline or "
                "util/call), not directly.")
    text = f"No transaction type named {name!r}."
    if isinstance(name, str):
        close = difflib.get_close_matches(name, startable_names(), n=1)
        if close:
            text += f" Did you mean `{close[0]}`?"
    return text


def new_transaction(*, cached=False, **fields):
    """Build the unsaved row of a new transaction and its "created" journal data (`fields`: _build's);
    UnknownTransactionType if no pipeline of that name may start one (a child-only pipeline only with
    `allow_child_only`). `pipelines`, if given, holds them (`Pipelines`: then nothing is read here). With
    `cached` (the fast path only) the pipeline row may be this process's last read of it, which `insert`
    checks; whatever such a row makes fail, a fresh read decides again."""
    name, pipelines = fields["transaction_type"], fields.get("pipelines")
    row = None
    if cached and pipelines is None and isinstance(name, str) and statements.fast_paths():
        row = _pipelines.get(name)
    if row is not None:
        try:
            tx, created = _build(row, **fields)
        except Exception:  # noqa: BLE001 - the row may be stale: the read below decides
            _pipelines.pop(name, None)
        else:
            tx._datp_pipeline = row
            return tx, created
    if not isinstance(name, str):
        pipeline = None
    elif pipelines is not None:
        pipeline = pipelines.get(name)
    else:
        pipeline = _pipeline(name)
    return _build(pipeline, **fields)


def _build(pipeline, *, owner, transaction_type, data, metadata, deadline, now, external_id=None, webhook=None,
           webhook_progress=False, parent=None, parent_key=None, report_to_id=None, allow_child_only=False,
           pipelines=None):
    if pipeline is None or pipeline["current_version_id"] is None or \
            not (pipeline["transaction_type"] or allow_child_only):
        names = pipelines.startable_names if pipelines is not None else _startable_names
        raise UnknownTransactionType(unknown_type_message(transaction_type, pipeline, names))
    version_id = pipeline["current_version_id"]
    definition = definition_of(version_id=version_id)  # versions are immutable: read once per process
    deadline_at = durations.resolve_deadline(deadline, now)
    if deadline_at is None and definition.get("deadline"):
        try:
            deadline_at = durations.add(now, definition["deadline"])
        except durations.BadDuration as exc:  # the pipeline's own deadline, from a later "now"
            raise durations.field_error("deadline", f"The pipeline's deadline: {exc}") from exc
    tx = Transaction(
        id=new_tx_id(), owner_id=owner, external_id=external_id, pipeline_name=pipeline["name"],
        version_id=version_id, node_group_id=definition.get("node_group") or pipeline["node_group_id"],
        status=TxStatus.QUEUED, input=data, metadata=metadata, deadline_at=deadline_at,
        webhook_url=webhook, webhook_progress=bool(webhook_progress), parent=parent, parent_key=parent_key,
        report_to_id=report_to_id, created_at=now, updated_at=now, queued_at=now,
        step_name=definition["steps"][0]["name"], visit_started_at=None,
    )
    created = {"transaction_type": pipeline["name"], "version": version_id, "external_id": external_id,
               "parent_tx_id": parent.pk if parent else None}
    return tx, created


INSERT_SQL = """
WITH tx AS (INSERT INTO engine_transaction ({columns}) {source} RETURNING id, node_group_id),
journaled AS (INSERT INTO engine_journalentry (tx_id, at, kind, actor, step, data)
              SELECT id, %(created_at)s, 'created', %(journal_actor)s, NULL, %(journal_data)s FROM tx)
SELECT CASE WHEN %(journal_notify)s THEN pg_notify(%(journal_channel)s, node_group_id) END FROM tx
"""
# The row of a start whose pipeline came from this process's cache: written only if the pipeline is unchanged.
CHECKED = """SELECT {values} WHERE EXISTS (
    SELECT FROM engine_pipeline WHERE name = %(check_name)s AND current_version_id = %(check_version)s
    AND transaction_type = %(check_type)s AND node_group_id IS NOT DISTINCT FROM %(check_node_group)s)"""
_insert_sql = {}
_columns = []


def _prepared_columns():
    """Each column's attname, field, and the Python types whose values it sends as they are (get_db_prep_save
    returns them unchanged): the columns of a start, prepared in a few hundred microseconds less."""
    if not _columns:
        for field in Transaction._meta.concrete_fields:
            internal = field.target_field.get_internal_type() if field.is_relation else field.get_internal_type()
            plain = {"CharField": (str,), "TextField": (str,), "BooleanField": (bool,)}.get(internal, ())
            _columns.append((field.attname, field, plain, internal == "DateTimeField"))
    return _columns


def _params(tx):
    params = {}
    for attname, field, plain, is_datetime in _prepared_columns():
        value = getattr(tx, attname)
        if value is None or type(value) in plain or (is_datetime and type(value) is datetime and value.tzinfo):
            params[attname] = value
        else:
            params[attname] = field.get_db_prep_save(value, connection)
    return params


def _sql(checked):
    if checked not in _insert_sql:
        fields = Transaction._meta.concrete_fields
        values = ", ".join(f"%({f.attname})s" for f in fields)
        source = CHECKED.format(values=values) if checked else f"VALUES ({values})"
        _insert_sql[checked] = INSERT_SQL.format(columns=", ".join(f.column for f in fields), source=source)
    return _insert_sql[checked]


def insert(tx, *, actor, created):
    """Insert `tx` with its journal entry and tell the runtime: one statement on PostgreSQL, shared with the
    starts other threads of this process make meanwhile (`start_group`). StalePipeline (nothing written) when
    `tx` was built from a cached pipeline row that is no longer the pipeline's."""
    if not statements.fast_paths():
        with transaction.atomic():
            tx.save(force_insert=True)
            journal(tx_id=tx.pk, kind="created", actor=actor, at=tx.created_at, **created)
            dispatch_on_commit(node_group=tx.node_group_id)
        return
    alone = partial(_insert_one, actor=actor, created=created)
    if not (start_group.joins_group() and start_group.group.insert(tx, actor=actor, created=created, alone=alone)):
        alone(tx)


def _insert_one(tx, *, actor, created):
    pipeline = getattr(tx, "_datp_pipeline", None)
    params = _params(tx)
    params.update(journal_actor=actor, journal_data=statements.jsonb(created), journal_channel=notices.WORK_CHANNEL,
                  journal_notify=notices.sends_notices())
    if pipeline is not None:
        params.update(check_name=pipeline["name"], check_version=pipeline["current_version_id"],
                      check_type=pipeline["transaction_type"], check_node_group=pipeline["node_group_id"])
    if not statements.rows(_sql(pipeline is not None), params) and pipeline is not None:
        _pipelines.pop(pipeline["name"], None)
        raise StalePipeline()
    tx._state.adding = False
    tx._state.db = "default"


BATCH = 1000


def insert_many(template, *, created, rows, actor):
    """Insert a transaction for each `(data, parent_key)` of `rows`, like `template` (a row of `new_transaction`,
    not saved) but for its id, input and parent key, in batches, with their "created" journal entries and
    one work notice: a fan-out's children. Return the rows inserted."""
    values = {field.attname: getattr(template, field.attname) for field in Transaction._meta.concrete_fields}
    txs = [Transaction(**{**values, "id": new_tx_id(), "input": data, "parent_key": key}) for data, key in rows]
    insert_rows([(tx, created) for tx in txs], actor=actor)
    return txs


def insert_rows(pairs, *, actor, actors=None):
    """Insert each `(tx, created)` of `pairs` (rows of `new_transaction`, not saved) with its "created" journal
    entry (by `actor`, or by each one's of `actors`), in batches of BATCH rows, and send one work notice per node
    group among them (a fan-out's children, a bulk start). The caller holds the database transaction."""
    if not pairs:
        return
    Transaction.objects.bulk_create([tx for tx, _ in pairs], batch_size=BATCH)
    actors = actors or [actor] * len(pairs)
    entries = [JournalEntry(tx_id=tx.pk, kind="created", actor=by, at=tx.created_at, data=created)
               for (tx, created), by in zip(pairs, actors, strict=True)]
    JournalEntry.objects.bulk_create(entries, batch_size=BATCH)
    for node_group in sorted({tx.node_group_id for tx, _ in pairs}):
        dispatch_on_commit(node_group=node_group)
