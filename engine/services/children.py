"""Child transactions: start one from a step (idempotently) and read its state. A parent's children are
cancelled by its follow-ups (engine.services.followups)."""
from django.db import transaction

from engine import clock
from engine.errors import InvalidRequest, TransactionNotFound
from engine.models import Callback, Transaction
from engine.services.common import journal, lock_fenced
from engine.services.state.start import insert, new_transaction


def child_start(*, parent_id, pipeline, data, background, callback, key, lease, actor):
    """Start a child of the same owner; the same step execution asking again gets the same child."""
    if not isinstance(data, dict):
        raise InvalidRequest("A child's data must be an object.", fields={"data": ["Must be an object."]})
    with transaction.atomic():
        parent = lock_fenced(lease=lease)
        existing = Transaction.objects.filter(parent_id=parent.pk, parent_key=key).first()
        if existing is not None:
            return existing.pk
        report_to = None
        if callback is not None:
            if not background:
                raise InvalidRequest("A callback is only for a background child.")
            report_to = Callback.objects.filter(tx_id=parent.pk, name=callback).first()
            if report_to is None:
                raise InvalidRequest(f"No callback named {callback!r} on this transaction.")
        child, created = new_transaction(
            owner=parent.owner_id, transaction_type=pipeline, data=data, metadata=parent.metadata, deadline=None,
            now=clock.now(), parent=parent, parent_key=key, report_to_id=report_to.pk if report_to else None,
            allow_child_only=True,
        )
        insert(child, actor=actor, created=created)
        journal(tx_id=parent.pk, kind="child", actor=actor, at=child.created_at, step=parent.step_name,
                child_tx_id=child.pk, pipeline=pipeline, background=background)
    return child.pk


def child_state(*, parent_id, child_id):
    child = Transaction.objects.filter(pk=child_id, parent_id=parent_id).values(
        "id", "status", "output", "note", "pipeline_name"
    ).first()
    if child is None:
        raise TransactionNotFound()
    return {"tx_id": child["id"], "status": child["status"], "data": child["output"], "note": child["note"],
            "transaction_type": child["pipeline_name"]}
