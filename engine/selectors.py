"""Reads shared by the API, the console, the client and the test helper; nothing here writes."""
from engine.errors import TransactionNotFound
from engine.models import JournalEntry, Node, Sleeper, StepRun, Switch, Transaction
from engine.states import TxStatus
from engine.steps import registry


def iso(moment):
    if moment is None:
        return None
    return moment.isoformat().replace("+00:00", "Z")


def waiting_as_dict(sleeper):
    if sleeper is None:
        return None
    return {
        "reason": sleeper.reason,
        "switch": sleeper.switch,
        "scope": sleeper.scope if sleeper.switch else None,
        "callback": sleeper.callback.name if sleeper.callback_id else None,
        "child_tx_id": sleeper.child_id,
        "wake_at": iso(sleeper.wake_at),
        "timeout_at": iso(sleeper.timeout_at),
        "since": iso(sleeper.since),
        "step": sleeper.step,
    }


def transaction_as_dict(tx, *, payload=True):
    """The transaction object of api.md."""
    sleeper = None
    if tx.status == TxStatus.SLEEPING:
        sleeper = Sleeper.objects.select_related("callback").filter(tx_id=tx.pk).first()
    switches = {s.name: s.value for s in Switch.objects.filter(tx_id=tx.pk).order_by("name")}
    if sleeper is not None and sleeper.switch and sleeper.scope == "transaction":
        switches.setdefault(sleeper.switch, None)
    result = {
        "tx_id": tx.pk,
        "owner": tx.owner_id,
        "external_id": tx.external_id,
        "transaction_type": tx.pipeline_name,
        "pipeline_version": tx.version_id,
        "node_group": tx.node_group_id,
        "status": tx.status,
        "note": tx.note,
        "waiting": waiting_as_dict(sleeper),
        "switches": switches,
        "deadline_at": iso(tx.deadline_at),
        "cancel_requested": tx.cancel_requested,
        "parent_tx_id": tx.parent_id,
        "created_at": iso(tx.created_at),
        "updated_at": iso(tx.updated_at),
        "completed_at": iso(tx.completed_at),
        "links": {"self": f"/api/v1/transactions/{tx.pk}", "console": f"/mondat/transactions/{tx.pk}"},
    }
    if payload:
        result.update({"progress": tx.progress, "input": tx.input, "metadata": tx.metadata, "data": tx.output})
    return result


def transaction_get(*, tx_id, owner=None):
    queryset = Transaction.objects.filter(pk=tx_id)
    if owner is not None:
        queryset = queryset.filter(owner_id=owner)
    tx = queryset.first()
    if tx is None:
        raise TransactionNotFound()
    return tx


def step_run_as_dict(run):
    return {
        "seq": run.seq, "step": run.step, "type": run.step_type, "status": run.status, "attempt": run.attempt,
        "retry_count": run.retry_count, "note": run.note, "input": run.input, "output": run.output,
        "error": run.error, "started_at": iso(run.started_at), "ended_at": iso(run.ended_at),
        "duration_ms": run.duration_ms, "node": run.node, "logs": run.logs,
    }


def step_runs_of(*, tx_id):
    return list(StepRun.objects.filter(tx_id=tx_id).order_by("seq"))


def journal_of(*, tx_id):
    return list(JournalEntry.objects.filter(tx_id=tx_id).order_by("id"))


def step_runs_page(*, tx_id, after_seq=0, limit):
    """Up to `limit` step runs of a transaction after `after_seq`, oldest first."""
    return list(StepRun.objects.filter(tx_id=tx_id, seq__gt=after_seq).order_by("seq")[:limit])


def journal_page(*, tx_id, after_seq=0, limit):
    """Up to `limit` journal entries of a transaction after `after_seq`, oldest first."""
    return list(JournalEntry.objects.filter(tx_id=tx_id, id__gt=after_seq).order_by("id")[:limit])


def journal_entry_as_dict(entry):
    return {"seq": entry.seq, "at": iso(entry.at), "kind": entry.kind, "actor": entry.actor, "step": entry.step,
            "data": entry.data}


def node_count_seen_since(*, since):
    """How many nodes have reported in since `since`."""
    return Node.objects.filter(last_seen_at__gte=since).count()


def step_type_list():
    """Every registered step type: {"type", "description", "config_schema"}, by name."""
    return [{"type": name, "description": cls.describe(), "config_schema": cls.config_schema}
            for name, cls in registry.all_types().items()]
