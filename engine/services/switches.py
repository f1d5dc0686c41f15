"""Switches: set (waking the step that waits on it), read (clearing the unread flag), global switches."""
import json
import re

from django.db import transaction

from engine import clock, conf
from engine.errors import InvalidRequest, LeaseLost, TransactionFinished
from engine.limits import NAME_PATTERN
from engine.models import GlobalSwitch, GlobalSwitchChange, Sleeper, Switch, Transaction
from engine.services import statements
from engine.services.common import journal, lock_fenced, lock_tx
from engine.services.state.wake import wake, wake_on_first_set
from engine.states import SwitchScope, TxStatus, is_terminal

NAME_RE = re.compile(NAME_PATTERN)
MAX_STRING = 1024


def validate_switch_name(*, name):
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise InvalidRequest(
            "A switch name is 1 to 64 letters, digits or _.:- and starts with a letter or digit.",
            fields={"name": ["Not a valid switch name."]},
        )


def validate_switch_value(*, value):
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, int | float):
        if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
            raise InvalidRequest("A switch value must be a finite number.", fields={"value": ["Not finite."]})
        return
    if isinstance(value, str):
        if len(value) > MAX_STRING:
            raise InvalidRequest(f"A switch string is at most {MAX_STRING} characters.",
                                 fields={"value": [f"Longer than {MAX_STRING} characters."]})
        return
    raise InvalidRequest("A switch value is true, false, a number, a string or null.",
                         fields={"value": ["Not a JSON scalar."]})


def _same(a, b):
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True) and type(a) is type(b)


def switch_as_dict(*, switch):
    return {"name": switch.name, "value": switch.value, "set_at": switch.set_at, "set_by": switch.set_by,
            "unread": switch.unread}


def switch_set(*, tx_id, name, value, actor, channel="api", reason="", owner=None, lease=None):
    """Set a switch of a transaction; wake the step sleeping on it in the same database transaction.

    Returns {"switch": {...}, "action": "unchanged" | "updated" | "woken"}.
    """
    validate_switch_name(name=name)
    validate_switch_value(value=value)
    now = clock.now()
    if lease is None and value is not None:
        switch = wake_on_first_set(tx_id=tx_id, name=name, value=value, actor=actor, channel=channel,
                                   reason=reason, owner=owner, now=now)
        if switch is not None:
            return {"switch": switch, "action": "woken"}
    with transaction.atomic():
        tx = lock_fenced(lease=lease) if lease is not None else lock_tx(tx_id=tx_id, owner=owner)
        if is_terminal(tx.status):
            raise TransactionFinished("Switches of a finished transaction cannot change.")
        switch, _ = Switch.objects.get_or_create(tx_id=tx.pk, name=name)
        if switch.set_at is not None and _same(switch.value, value):
            return {"switch": switch_as_dict(switch=switch), "action": "unchanged"}
        if switch.set_at is None and value is None:
            return {"switch": switch_as_dict(switch=switch), "action": "unchanged"}
        switch.value = value
        switch.unread = True
        switch.set_at = now
        switch.set_by = actor
        switch.save()
        journal(tx_id=tx.pk, kind="switch", actor=actor, at=now, step=tx.step_name, name=name, value=value,
                channel=channel, reason=reason)
        action = "updated"
        if tx.status == TxStatus.SLEEPING:
            sleeper = Sleeper.objects.filter(tx_id=tx.pk).first()
            if sleeper and sleeper.scope == SwitchScope.TRANSACTION and sleeper.switch == name:
                wake(tx, actor=actor, now=now, why=f"switch {name} set", reason="switch")
                action = "woken"
    return {"switch": switch_as_dict(switch=switch), "action": action}


# The statement's snapshot is taken before `held` waits for a setter's lock on the transaction: `found`
# locks the switch row so that it reads the row as the setter left it (READ COMMITTED re-reads a row it
# had to wait for), never the older value with the flag cleared, which would lose the wake-up.
READ_SQL = """
WITH held AS (
    SELECT id FROM engine_transaction
     WHERE id = %(tx_id)s AND lease_token = %(token)s AND status = 'running' FOR UPDATE
), found AS (
    SELECT id, value, unread FROM engine_switch
     WHERE tx_id = %(tx_id)s AND name = %(name)s AND EXISTS (SELECT 1 FROM held) FOR UPDATE
), cleared AS (
    UPDATE engine_switch SET unread = false WHERE id IN (SELECT id FROM found WHERE unread)
)
SELECT EXISTS (SELECT 1 FROM held), (SELECT value::text FROM found)
"""


def switch_read(*, tx_id, name, lease=None):
    """Return a switch's value (None if never set) and clear its unread flag."""
    validate_switch_name(name=name)
    if lease is not None and statements.fast_paths():  # a step reading: one statement, fenced by its lease
        [(held, value)] = statements.rows(READ_SQL, {"tx_id": lease.tx_id, "token": lease.token, "name": name})
        if not held:
            raise LeaseLost(f"{lease.tx_id}: the lease is no longer held")
        return statements.loads(value)
    with transaction.atomic():
        if lease is not None:
            lock_fenced(lease=lease)
        switch = Switch.objects.filter(tx_id=tx_id, name=name).first()
        if switch is None:
            return None
        if switch.unread:
            Switch.objects.filter(pk=switch.pk).update(unread=False)
        return switch.value


def switches_of(*, tx_id):
    """List every switch of a transaction, including one a step waits on that was never set (value null)."""
    found = {s.name: switch_as_dict(switch=s) for s in Switch.objects.filter(tx_id=tx_id)}
    waited = Sleeper.objects.filter(tx_id=tx_id, scope=SwitchScope.TRANSACTION, switch__isnull=False).values_list(
        "switch", flat=True).first()
    if waited is not None and waited not in found:
        found[waited] = {"name": waited, "value": None, "set_at": None, "set_by": "", "unread": False}
    return [found[name] for name in sorted(found)]


def global_switch_read(*, owner, name):
    """Return (value, set_at) of an owner's global switch; (None, None) if it was never set."""
    validate_switch_name(name=name)
    row = GlobalSwitch.objects.filter(owner_id=owner, name=name).values_list("value", "set_at").first()
    return row if row is not None else (None, None)


def global_switch_set(*, owner, name, value, actor, channel="api", reason=""):
    """Set an owner's global switch and wake, in bounded batches, every transaction waiting on it.

    Returns once all of them are queued: {"switch": {...}, "action": ..., "woken": n}.
    """
    validate_switch_name(name=name)
    validate_switch_value(value=value)
    now = clock.now()
    with transaction.atomic():
        switch, created = GlobalSwitch.objects.select_for_update().get_or_create(owner_id=owner, name=name)
        if not created and switch.set_at is not None and _same(switch.value, value):
            return {"switch": _global_dict(switch), "action": "unchanged", "woken": 0}
        switch.value = value
        switch.set_at = now
        switch.set_by = actor
        switch.save()
        change = GlobalSwitchChange.objects.create(switch=switch, value=value, at=now, actor=actor,
                                                   channel=channel, reason=reason)
    woken = _wake_global_waiters(owner=owner, name=name, actor=actor, now=now)
    GlobalSwitchChange.objects.filter(pk=change.pk).update(woken=woken)
    return {"switch": _global_dict(switch), "action": "woken" if woken else "updated", "woken": woken}


def _wake_global_waiters(*, owner, name, actor, now):
    batch = conf.get("GLOBAL_WAKE_BATCH")
    woken = 0
    seen = set()
    while True:
        ids = list(
            Sleeper.objects.filter(owner_id=owner, scope=SwitchScope.GLOBAL, switch=name)
            .exclude(tx_id__in=seen).order_by("tx_id").values_list("tx_id", flat=True)[:batch]
        )
        if not ids:
            return woken
        seen.update(ids)
        with transaction.atomic():
            for tx in Transaction.objects.select_for_update().filter(pk__in=ids, status=TxStatus.SLEEPING):
                wake(tx, actor=actor, now=now, why=f"global switch {name} set", reason="switch")
                woken += 1


def _global_dict(switch):
    return {"name": switch.name, "value": switch.value, "set_at": switch.set_at, "set_by": switch.set_by}
