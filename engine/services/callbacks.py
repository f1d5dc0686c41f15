"""Callbacks: create, report to (by token, by a step, or by a background child), force a timeout."""
from django.db import transaction

from engine import clock
from engine.errors import CallbackFinal, CallbackNotFound, InvalidRequest
from engine.models import Callback, CallbackUpdate
from engine.services.common import journal, lock_fenced, new_token
from engine.states import CALLBACK_ACTIVE, CALLBACK_REPORTABLE, CallbackStatus
from engine.util import deep_merge


def callback_as_dict(callback):
    return {
        "name": callback.name,
        "token": callback.token,
        "status": callback.status,
        "callback_data": callback.callback_data,
        "data": callback.data,
        "timeout_at": callback.timeout_at,
        "created_at": callback.created_at,
        "updated_at": callback.updated_at,
        "url": f"/api/v1/callbacks/{callback.token}",
    }


def callback_create(*, tx_id, name, callback_data, timeout_at, lease, actor):
    """Create the callback `name` of a transaction; an active one of that name is returned as it is.

    A final one is replaced by a fresh one (a new token), so a loop can create it again.
    """
    if not isinstance(callback_data, dict):
        raise InvalidRequest("callback_data must be an object.", fields={"callback_data": ["Must be an object."]})
    now = clock.now()
    with transaction.atomic():
        lock_fenced(lease)
        callback = Callback.objects.filter(tx_id=tx_id, name=name).first()
        if callback is not None and not callback.is_final:
            return callback_as_dict(callback)
        if callback is None:
            callback = Callback(tx_id=tx_id, name=name, created_at=now)
        callback.token = new_token()
        callback.status = CallbackStatus.CREATED
        callback.callback_data = callback_data
        callback.data = {}
        callback.timeout_at = timeout_at
        callback.updated_at = now
        callback.save()
        journal(tx_id, "callback", actor, now, name=name, status="created")
    return callback_as_dict(callback)


def callback_by_name(*, tx_id, name):
    callback = Callback.objects.filter(tx_id=tx_id, name=name).first()
    return None if callback is None else callback_as_dict(callback)


def callback_get(*, token):
    callback = Callback.objects.filter(token=token).first()
    if callback is None:
        raise CallbackNotFound()
    return callback_as_dict(callback)


def callback_update(*, token, status, data=None, actor=None, allow_timeout=False):
    """Report `status` (and data, deep-merged) to the callback with `token`; a final one wakes its awaiter.

    Without an `actor`, the journal names the callback itself (`callback:<name>`).

    Returns {"callback": {...}, "action": "updated" | "woken"}.
    """
    if status not in CALLBACK_REPORTABLE and not (allow_timeout and status == "timeout"):
        raise InvalidRequest(
            f"status must be one of {', '.join(CALLBACK_REPORTABLE)}.", fields={"status": ["Unknown status."]}
        )
    if data is not None and not isinstance(data, dict):
        raise InvalidRequest("data must be an object.", fields={"data": ["Must be an object."]})
    if not isinstance(token, str) or not token:
        raise CallbackNotFound()
    now = clock.now()
    with transaction.atomic():
        callback = Callback.objects.select_for_update().filter(token=token).first()
        if callback is None:
            raise CallbackNotFound()
        woken = _apply(callback, status=status, data=data or {}, now=now,
                       actor=actor or f"callback:{callback.name}")
    return {"callback": callback_as_dict(callback), "action": "woken" if woken else "updated"}


def _apply(callback, *, status, data, now, actor):
    from engine.services.moves import wake_if_waiting

    if callback.is_final:
        raise CallbackFinal()
    callback.status = status
    callback.data = deep_merge(callback.data, data)
    callback.updated_at = now
    callback.save(update_fields=["status", "data", "updated_at"])
    CallbackUpdate.objects.create(callback=callback, status=status, data=data, at=now, actor=actor)
    journal(callback.tx_id, "callback", actor, now, name=callback.name, status=status)
    if callback.is_final:
        return wake_if_waiting(callback_id=callback.pk, now=now, actor=actor,
                               why=f"callback {callback.name} {status}") > 0
    return False


def callback_force(callback, *, status, now, actor):
    """Make an active callback final (cancel or timeout) without the reporter's say."""
    if callback.status not in CALLBACK_ACTIVE:
        return False
    return _apply(callback, status=status, data={}, now=now, actor=actor)


def callback_report_child(*, callback_id, status, child, now):
    """A background child finished: report its end to the callback it was started with."""
    callback = Callback.objects.select_for_update().filter(pk=callback_id).first()
    if callback is None or callback.is_final:
        return False
    data = child.output if isinstance(child.output, dict) and status == "complete" else {}
    if status != "complete":
        data = {"child": {"tx_id": child.pk, "status": child.status, "note": child.note}}
    return _apply(callback, status=status, data=data, now=now, actor=f"child:{child.pk}")
