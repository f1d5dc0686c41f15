"""A transaction begins: its row, queued at the current version of its pipeline, with its "created"
journal entry and the work notice, in one statement on PostgreSQL (`insert`); many of them in a few
statements, one notice per node group (`insert_rows`: a fan-out's children, a bulk start).

`new_transaction` builds the row (the pipeline and version in use, the deadline); the API's start
(`engine.services.transactions`) and a step's child (`engine.services.children`) both insert with it.
"""
import difflib

from django.db import connection, transaction

from engine import durations, notices
from engine.errors import UnknownTransactionType
from engine.models import JournalEntry, Pipeline, Transaction
from engine.services import statements
from engine.services.common import dispatch_on_commit, journal, new_tx_id
from engine.services.runs import definition_of
from engine.states import TxStatus

PIPELINE_COLUMNS = ("name", "transaction_type", "node_group_id", "current_version_id")
PIPELINE_SQL = f"SELECT {', '.join(PIPELINE_COLUMNS)} FROM engine_pipeline WHERE name = %(name)s"


def _pipeline(name):
    """Return what a start needs of pipeline `name` (a prepared statement on PostgreSQL), or None."""
    if statements.is_postgres():
        found = statements.rows(PIPELINE_SQL, {"name": name})
        return dict(zip(PIPELINE_COLUMNS, found[0])) if found else None
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


def new_transaction(*, owner, transaction_type, data, metadata, deadline, now, external_id=None, webhook=None,
                    webhook_progress=False, parent=None, parent_key=None, report_to_id=None,
                    allow_child_only=False, pipelines=None):
    """Build the unsaved row of a new transaction and its "created" journal data; UnknownTransactionType if no
    pipeline of that name may start one (a child-only pipeline only with `allow_child_only`). `pipelines`, if
    given, holds them (`Pipelines`: then nothing is read here)."""
    if not isinstance(transaction_type, str):
        pipeline = None
    elif pipelines is not None:
        pipeline = pipelines.get(transaction_type)
    else:
        pipeline = _pipeline(transaction_type)
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
WITH tx AS (INSERT INTO engine_transaction ({columns}) VALUES ({values}) RETURNING id, node_group_id),
journaled AS (INSERT INTO engine_journalentry (tx_id, at, kind, actor, step, data)
              SELECT id, %(created_at)s, 'created', %(journal_actor)s, NULL, %(journal_data)s FROM tx)
SELECT CASE WHEN %(journal_notify)s THEN pg_notify(%(journal_channel)s, node_group_id) END FROM tx
"""
_insert_sql = []


def insert(tx, *, actor, created):
    """Insert `tx` with its journal entry and tell the runtime: one statement on PostgreSQL."""
    if not statements.fast_paths():
        with transaction.atomic():
            tx.save(force_insert=True)
            journal(tx_id=tx.pk, kind="created", actor=actor, at=tx.created_at, **created)
            dispatch_on_commit(node_group=tx.node_group_id)
        return
    fields = Transaction._meta.concrete_fields
    if not _insert_sql:
        _insert_sql.append(INSERT_SQL.format(columns=", ".join(f.column for f in fields),
                                             values=", ".join(f"%({f.attname})s" for f in fields)))
    params = {f.attname: f.get_db_prep_save(getattr(tx, f.attname), connection) for f in fields}
    params.update(journal_actor=actor, journal_data=statements.jsonb(created), journal_channel=notices.WORK_CHANNEL,
                  journal_notify=notices.sends_notices())
    statements.rows(_insert_sql[0], params)
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


def insert_rows(pairs, *, actor):
    """Insert each `(tx, created)` of `pairs` (rows of `new_transaction`, not saved) with its "created" journal
    entry, in batches of BATCH rows, and send one work notice per node group among them (a fan-out's children,
    a bulk start). The caller holds the database transaction."""
    if not pairs:
        return
    Transaction.objects.bulk_create([tx for tx, _ in pairs], batch_size=BATCH)
    entries = [JournalEntry(tx_id=tx.pk, kind="created", actor=actor, at=tx.created_at, data=created)
               for tx, created in pairs]
    JournalEntry.objects.bulk_create(entries, batch_size=BATCH)
    for node_group in sorted({tx.node_group_id for tx, _ in pairs}):
        dispatch_on_commit(node_group=node_group)
