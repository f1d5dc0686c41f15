"""Everything the console's Transaction page shows of one transaction, read in a fixed number of queries.

Long histories (step runs, journal, switch history) come newest `limit` first with a keyset position
for older ones; children are the oldest `limit`; large payloads of related rows are deferred."""
from dataclasses import dataclass

from django.db.models import Prefetch

from engine import clock
from engine.models import (
    Callback,
    CallbackUpdate,
    FanOutItem,
    JournalEntry,
    Sleeper,
    StepRun,
    Switch,
    Transaction,
    WebhookDelivery,
)
from engine.selectors.why import CHILD_PAYLOAD, transaction_why
from engine.states import TX_ACTIVE, TX_RETRYABLE, TxStatus

PAGE = 200
CALLBACK_UPDATES = 50
DELIVERIES = 100
LINK_FIELDS = ("id", "owner_id", "status", "pipeline_name", "created_at", "completed_at")


@dataclass
class Slice:
    """Up to `limit` rows, oldest first; `older` is the keyset position of the rows before them, or None."""

    rows: list
    older: int | None


@dataclass
class TransactionDetail:
    tx: object
    why: object
    sleeper: object
    parent: object
    fan_out_item: object  # the item of a parent's fan-out this transaction runs (with its fan-out), or None
    step_runs: Slice
    journal: Slice
    switches: list
    switch_history: Slice
    callbacks: list
    children: list
    more_children: bool
    deliveries: list

    @property
    def is_active(self):
        return self.tx.status in TX_ACTIVE

    @property
    def is_sleeping(self):
        return self.tx.status == TxStatus.SLEEPING

    @property
    def is_retryable(self):
        return self.tx.status in TX_RETRYABLE


def _newest(queryset, key, before, limit):
    """Return the newest `limit` rows of `queryset` with `key` below `before`, oldest first."""
    if before is not None:
        queryset = queryset.filter(**{f"{key}__lt": before})
    rows = list(queryset.order_by(f"-{key}")[:limit + 1])
    older = None
    if len(rows) > limit:
        rows = rows[:limit]
        older = getattr(rows[-1], key)
    rows.reverse()
    return Slice(rows, older)


def _first(queryset, limit):
    """Return the oldest `limit` children; `more` tells whether there are others."""
    rows = list(queryset.order_by("created_at", "id")[:limit + 1])
    return rows[:limit], len(rows) > limit


def _switches(tx, sleeper):
    """Return the transaction's switches by name, with the one its step waits on even if never set."""
    rows = {s.name: s for s in Switch.objects.filter(tx_id=tx.pk)}
    if sleeper is not None and sleeper.switch and sleeper.scope == "transaction" and sleeper.switch not in rows:
        rows[sleeper.switch] = Switch(tx_id=tx.pk, name=sleeper.switch, value=None)
    return [rows[name] for name in sorted(rows)]


def _callbacks(tx):
    updates = CallbackUpdate.objects.order_by("-id")[:CALLBACK_UPDATES]
    callbacks = list(Callback.objects.filter(tx_id=tx.pk).order_by("created_at", "id")
                     .prefetch_related(Prefetch("updates", queryset=updates, to_attr="recent_updates")))
    for callback in callbacks:
        callback.recent_updates.reverse()
    return callbacks


def transaction_detail(*, tx, now=None, steps_before=None, journal_before=None, switches_before=None,
                       limit=PAGE):
    """Read what the Transaction page shows for `tx` (already checked to be in the reader's scope)."""
    now = now or clock.now()
    sleeper = None
    if tx.status == TxStatus.SLEEPING:
        sleeper = (Sleeper.objects.select_related("callback", "child", "fan_out").defer(*CHILD_PAYLOAD)
                   .filter(tx_id=tx.pk).first())
    parent = item = None
    if tx.parent_id:
        parent = Transaction.objects.only(*LINK_FIELDS).filter(pk=tx.parent_id).first()
        item = FanOutItem.objects.select_related("fan_out").defer("data").filter(child_id=tx.pk).first()
    journal = JournalEntry.objects.filter(tx_id=tx.pk)
    children_rows, more_children = _first(Transaction.objects.only(*LINK_FIELDS).filter(parent_id=tx.pk), limit)
    return TransactionDetail(
        tx=tx,
        why=transaction_why(tx=tx, now=now, sleeper=sleeper),
        sleeper=sleeper,
        parent=parent,
        fan_out_item=item,
        step_runs=_newest(StepRun.objects.filter(tx_id=tx.pk).defer("input", "output"), "seq", steps_before,
                          limit),
        journal=_newest(journal, "id", journal_before, limit),
        switches=_switches(tx, sleeper),
        switch_history=_newest(journal.filter(kind="switch"), "id", switches_before, limit),
        callbacks=_callbacks(tx),
        children=children_rows,
        more_children=more_children,
        deliveries=list(WebhookDelivery.objects.filter(tx_id=tx.pk).defer("payload")
                        .order_by("-created_at")[:DELIVERIES]),
    )
