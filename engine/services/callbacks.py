"""Callbacks: create, report to (by token, by a step through a marker, or by a background child), force a
timeout. A token is a credential: stored only as its SHA-256 (engine.tokens), it is handed to the step
that creates the callback, to a step of its family that asks by marker, and to its owner by the API."""
from django.db import transaction

from engine import clock, tokens
from engine.errors import CallbackFinal, CallbackNotFound, InvalidRequest
from engine.models import Callback, CallbackUpdate, Transaction
from engine.services.common import journal, lock_fenced
from engine.services.state.wake import wake_if_waiting
from engine.states import CALLBACK_ACTIVE, CALLBACK_REPORTABLE, TX_TERMINAL_VALUES, CallbackStatus
from engine.util import deep_merge

# How far up the parent chain a marker may point: a step reports to its own callbacks or an ancestor's.
FAMILY_DEPTH = 32


def callback_as_dict(*, callback):
    """Return a callback as steps and services see it: `ref` (the marker) stands for its token."""
    return {
        "name": callback.name,
        "ref": tokens.marker(callback.tx_id, callback.name),
        "status": callback.status,
        "callback_data": callback.callback_data,
        "data": callback.data,
        "timeout_at": callback.timeout_at,
        "created_at": callback.created_at,
        "updated_at": callback.updated_at,
    }


def revealed(*, callback):
    """Return {"token", "url"} of a callback (both None when its token cannot be derived again)."""
    token = tokens.of_callback(callback)
    return {"token": token, "url": None if token is None else tokens.url(token)}


def callback_create(*, tx_id, name, callback_data, timeout_at, lease, actor):
    """Create the callback `name` of a transaction and return it with its token and URL; an active one
    of that name is returned as it is (the same token: a step run again gets a usable one).

    A final one is replaced by a fresh one (a new token), so a loop can create it again.
    """
    if not isinstance(callback_data, dict):
        raise InvalidRequest("callback_data must be an object.", fields={"callback_data": ["Must be an object."]})
    now = clock.now()
    with transaction.atomic():
        lock_fenced(lease=lease)
        callback = Callback.objects.filter(tx_id=tx_id, name=name).first()
        if callback is not None and not callback.is_final:
            return {**callback_as_dict(callback=callback), **revealed(callback=callback)}
        if callback is None:
            callback = Callback(tx_id=tx_id, name=name, created_at=now)
        callback.token_salt = tokens.new_salt()
        token = tokens.derive(callback.token_salt, tx_id=tx_id, name=name)
        callback.token_hash = tokens.digest(token)
        callback.status = CallbackStatus.CREATED
        callback.callback_data = callback_data
        callback.data = {}
        callback.timeout_at = timeout_at
        callback.updated_at = now
        callback.save()
        journal(tx_id=tx_id, kind="callback", actor=actor, at=now, name=name, status="created")
    return {**callback_as_dict(callback=callback), "token": token, "url": tokens.url(token)}


def callback_by_name(*, tx_id, name):
    callback = Callback.objects.filter(tx_id=tx_id, name=name).first()
    return None if callback is None else callback_as_dict(callback=callback)


def _family(tx_id):
    """Return `tx_id` and its ancestors, nearest first."""
    found = []
    while tx_id is not None and len(found) < FAMILY_DEPTH:
        found.append(tx_id)
        tx_id = Transaction.objects.filter(pk=tx_id).values_list("parent_id", flat=True).first()
    return found


def _find(queryset, *, token, within):
    """Return the callback of a token, or of a marker when `within` (a transaction id) is given and the marker
    names a callback of it or of one of its ancestors; None if there is none."""
    if not isinstance(token, str) or not token:
        return None
    ref = tokens.parse_marker(token)
    if ref is None:
        return queryset.filter(token_hash=tokens.digest(token)).first()
    if within is None or ref[0] not in _family(within):
        return None
    return queryset.filter(tx_id=ref[0], name=ref[1]).first()


def callback_reveal(*, tx_id, ref):
    """Return {"token", "url"} of the callback a marker names, for a step of `tx_id` to pass to a partner;
    None if the marker names no callback of `tx_id` or its ancestors, or its token cannot be derived."""
    callback = _find(Callback.objects.all(), token=ref, within=tx_id) if tokens.parse_marker(ref) else None
    if callback is None:
        return None
    found = revealed(callback=callback)
    return None if found["token"] is None else found


def callback_get(*, token, owner=None):
    """Return the callback of `token`; with `owner`, only if it belongs to that owner (else not found)."""
    callback = _find(Callback.objects.select_related("tx"), token=token, within=None)
    if callback is None or (owner is not None and callback.tx.owner_id != owner):
        raise CallbackNotFound()
    return callback_as_dict(callback=callback)


def callback_update(*, token, status, data=None, actor=None, allow_timeout=False, within=None, owner=None):
    """Report `status` (and data, deep-merged) to the callback with `token`; a final one wakes its awaiter.

    `within` (a step's transaction) lets `token` be a marker of its own or an ancestor's callback;
    `owner`, if given, must own the callback. A callback that is final, or whose transaction has
    finished, is refused (CallbackFinal). Without an `actor`, the journal names the callback itself.

    Returns {"callback": {...}, "action": "updated" | "woken"}.
    """
    if status not in CALLBACK_REPORTABLE and not (allow_timeout and status == "timeout"):
        raise InvalidRequest(
            f"status must be one of {', '.join(CALLBACK_REPORTABLE)}.", fields={"status": ["Unknown status."]}
        )
    if data is not None and not isinstance(data, dict):
        raise InvalidRequest("data must be an object.", fields={"data": ["Must be an object."]})
    now = clock.now()
    with transaction.atomic():
        # Only the callback row is locked; its transaction's status is read as it is.
        # FOR NO KEY UPDATE: the sleeper of a transaction going to sleep on this callback (KEY SHARE through its
        # foreign key, at its commit) must not wait for it while this waits for that transaction's lock.
        locked = Callback.objects.select_for_update(of=("self",), no_key=True).select_related("tx")
        callback = _find(locked, token=token, within=within)
        if callback is None or (owner is not None and callback.tx.owner_id != owner):
            raise CallbackNotFound()
        if callback.tx.status in TX_TERMINAL_VALUES:
            raise CallbackFinal()
        woken = _apply(callback, status=status, data=data or {}, now=now,
                       actor=actor or f"callback:{callback.name}")
    return {"callback": callback_as_dict(callback=callback), "action": "woken" if woken else "updated"}


def _apply(callback, *, status, data, now, actor):
    if callback.is_final:
        raise CallbackFinal()
    callback.status = status
    callback.data = deep_merge(callback.data, data)
    callback.updated_at = now
    callback.save(update_fields=["status", "data", "updated_at"])
    CallbackUpdate.objects.create(callback=callback, status=status, data=data, at=now, actor=actor)
    journal(tx_id=callback.tx_id, kind="callback", actor=actor, at=now, name=callback.name, status=status)
    if callback.is_final:
        return wake_if_waiting(tx_id=callback.tx_id, callback_id=callback.pk, now=now, actor=actor,
                               why=f"callback {callback.name} {status}") > 0
    return False


def callback_force(*, callback, status, now, actor):
    """Make an active callback final (cancel or timeout) without the reporter's say."""
    if callback.status not in CALLBACK_ACTIVE:
        return False
    return _apply(callback, status=status, data={}, now=now, actor=actor)


def callback_report_child(*, callback_id, status, child, now):
    """Report a background child's end to the callback it was started with."""
    callback = Callback.objects.select_for_update(no_key=True).filter(pk=callback_id).first()
    if callback is None or callback.is_final:
        return False
    data = child.output if isinstance(child.output, dict) and status == "complete" else {}
    if status != "complete":
        data = {"child": {"tx_id": child.pk, "status": child.status, "note": child.note}}
    return _apply(callback, status=status, data=data, now=now, actor=f"child:{child.pk}")
