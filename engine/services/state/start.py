"""A transaction begins: its row, queued at the current version of its pipeline, with its "created"
journal entry and the work notice, in one statement on PostgreSQL (`insert`).

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


def unknown_type_message(name, pipeline):
    """Say why `name` cannot start a transaction: a child-only pipeline, or no such type (and the startable
    type it is close to)."""
    if pipeline is not None and pipeline["current_version_id"] is not None:
        return (f"`{name}` is a child-only pipeline: start it from a parent's step (util/child-pipeline or "
                "util/call), not directly.")
    text = f"No transaction type named {name!r}."
    if isinstance(name, str):
        names = Pipeline.objects.filter(transaction_type=True, current_version__isnull=False)
        close = difflib.get_close_matches(name, sorted(names.values_list("name", flat=True)), n=1)
        if close:
            text += f" Did you mean `{close[0]}`?"
    return text


def new_transaction(*, owner, transaction_type, data, metadata, deadline, now, external_id=None, webhook=None,
                    webhook_progress=False, parent=None, parent_key=None, report_to_id=None,
                    allow_child_only=False):
    """Build the unsaved row of a new transaction and its "created" journal data; UnknownTransactionType if no
    pipeline of that name may start one (a child-only pipeline only with `allow_child_only`)."""
    pipeline = _pipeline(transaction_type) if isinstance(transaction_type, str) else None
    if pipeline is None or pipeline["current_version_id"] is None or \
            not (pipeline["transaction_type"] or allow_child_only):
        raise UnknownTransactionType(unknown_type_message(transaction_type, pipeline))
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
    if not txs:
        return txs
    Transaction.objects.bulk_create(txs, batch_size=BATCH)
    JournalEntry.objects.bulk_create(
        [JournalEntry(tx_id=tx.pk, kind="created", actor=actor, at=tx.created_at, data=created) for tx in txs],
        batch_size=BATCH)
    dispatch_on_commit(node_group=template.node_group_id)
    return txs
