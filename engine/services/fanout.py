"""Fan-out: a step starts many children and waits for their join (ctx.start_children, util/map).

The children are inserted in batches, at most `max_parallel` at a time (the rest start as others end, from
their `FanOutItem` rows). Each child's end is counted once, in the database transaction that ends it
(`child_ended`, called by the follow-ups): its item gets its status, the fan-out's counter goes up under the
fan-out's row lock, and `engine.joins.decide` says whether the join is decided. The parent is woken once, when
it is. Re-running the parent's step (a wake-up, a lost worker) finds the same fan-out: idempotent per visit.
"""
import dataclasses

from django.db import transaction

from engine import clock, conf
from engine.errors import InvalidRequest
from engine.joins import Counts, decide, join_problem, tolerated_count
from engine.models import FanOut, FanOutItem, JournalEntry, Transaction
from engine.runtime import faults
from engine.selectors.fan_outs import fan_out_group
from engine.services.common import lock_fenced
from engine.services.state.start import insert_many, new_transaction
from engine.services.state.wake import wake_if_waiting
from engine.states import TX_ACTIVE_VALUES, TxStatus, is_terminal
from engine.util import deep_merge

BATCH = 1000


def child_key(fan_out_id, index):
    """The parent_key of a fan-out's child: unique per parent, so that no item starts twice ('/' is in no step
    name, so no key of ctx.start_child looks like it)."""
    return f"fan/{fan_out_id}/{index}"


def child_data(item, data):
    """A child's data: the item (an object as it is, any other value as {"item": value}) over `data`."""
    return deep_merge(data or {}, item if isinstance(item, dict) else {"item": item})


def check_join(*, items, join, first_n, tolerated, max_parallel, on_failure):
    """Raise InvalidRequest naming the field when a fan-out's settings cannot hold."""
    if not isinstance(items, list | tuple):
        raise InvalidRequest("The items of a fan-out must be a list.", fields={"items": ["Must be a list."]})
    most = conf.get("MAX_FAN_OUT_ITEMS")
    if len(items) > most:
        text = f"At most {most:,} items per fan-out (DATP MAX_FAN_OUT_ITEMS); this list has {len(items):,}"
        raise InvalidRequest(f"{text}: split it, e.g. a map of maps.", fields={"items": [text]})
    problem = join_problem(join=join, tolerated=tolerated, first_n=first_n, max_parallel=max_parallel,
                           on_failure=on_failure)
    if problem is not None:
        field, text = problem
        raise InvalidRequest(f"{field} {text}.", fields={field: [text]})


def children_start(*, lease, step, visit, seq, pipeline, items, data=None, join="all", first_n=None, tolerated=None,
                   max_parallel=None, on_failure="fail_fast", actor):
    """Start the children of one item each (the same fan-out for the same `seq` of this visit) and return
    its ChildGroup. UnknownTransactionType if `pipeline` may not start a child."""
    check_join(items=items, join=join, first_n=first_n, tolerated=tolerated, max_parallel=max_parallel,
               on_failure=on_failure)
    with transaction.atomic():
        parent = lock_fenced(lease=lease)
        fan = FanOut.objects.filter(tx_id=parent.pk, step=step, visit=visit, seq=seq).first()
        if fan is None:
            fan = _create(parent, step=step, visit=visit, seq=seq, pipeline=pipeline, items=items, data=data,
                          join=join, first_n=first_n, tolerated=tolerated, max_parallel=max_parallel,
                          finish_all=on_failure == "finish_all", actor=actor)
    return group_of(fan)


def _create(parent, *, step, visit, seq, pipeline, items, data, join, first_n, tolerated, max_parallel, finish_all,
            actor):
    now = clock.now()
    template, created = new_transaction(owner=parent.owner_id, transaction_type=pipeline, data={},
                                        metadata=parent.metadata, deadline=None, now=now, parent=parent,
                                        allow_child_only=True)
    total = len(items)
    fan = FanOut.objects.create(
        tx=parent, step=step, visit=visit, seq=seq, pipeline=pipeline, join=join, first_n=first_n,
        tolerated_given=tolerated, tolerated=tolerated_count(tolerated, join=join, total=total),
        max_parallel=max_parallel, finish_all=finish_all, total=total, created_at=now,
    )
    first = total if max_parallel is None else min(max_parallel, total)
    rows = [FanOutItem(fan_out=fan, index=index, data=child_data(item, data)) for index, item in enumerate(items)]
    children = _insert_children(fan, template, created, rows[:first], actor=actor)
    for row, child in zip(rows, children):
        row.child_id = child.pk
    FanOutItem.objects.bulk_create(rows, batch_size=BATCH)
    fan.started = first
    fan.save(update_fields=["started"])
    faults.hit_fan_out(faults.FANOUT_FIRST_WINDOW, step=fan.step, fan_out=fan.pk)
    JournalEntry.objects.create(tx_id=parent.pk, kind="children", actor=actor, step=step, at=now, data={
        "fan_out": fan.pk, "pipeline": pipeline, "total": total, "started": first, "join": join,
        "max_parallel": max_parallel, "tolerated_failures": tolerated})
    _decide(fan, now=now)  # no items (or none needed) decides at once
    return fan


def _insert_children(fan, template, created, rows, *, actor):
    """Insert the children of `rows` (FanOutItems) in batches: their transactions."""
    return insert_many(template, created=created, actor=actor,
                       rows=[(row.data, child_key(fan.pk, row.index)) for row in rows])


def child_ended(child, *, now):
    """Count the end of `child` if it is a fan-out's: False if it is not (it may be a lone child), else True.
    Runs in the database transaction that ended it, under the fan-out's row lock. A child that ends again (an
    operator retried it) moves its count when its end changed between success and failure."""
    # The child's item and its fan-out, locked, in one statement (a lone child has none). The item's status is
    # current although the lock is the fan-out's: only this child's end writes it, and this database
    # transaction holds the child's row.
    # FOR NO KEY UPDATE: a parent's sleeper being written on this fan-out (its foreign key's KEY SHARE lock)
    # does not wait for it, so the parent's checkpoint never waits here while holding the lock `_decide` takes.
    item = (FanOutItem.objects.select_related("fan_out").select_for_update(of=("fan_out",), no_key=True)
            .defer("data").filter(child_id=child.pk).first())
    if item is None:
        return False
    fan, before = item.fan_out, item.status
    if before is not None and (before == TxStatus.SUCCESS) == (child.status == TxStatus.SUCCESS):
        return True  # counted before, in the same column
    FanOutItem.objects.filter(pk=item.pk).update(status=child.status)
    field = _count_field(child.status)
    setattr(fan, field, getattr(fan, field) + 1)
    fields = [field]
    if before is not None:
        setattr(fan, _count_field(before), getattr(fan, _count_field(before)) - 1)
        fields.append(_count_field(before))
    faults.hit_fan_out(faults.FANOUT_AFTER_COUNT, step=fan.step, fan_out=fan.pk)
    if fan.decided_at is None:
        if _decide(fan, now=now):
            return True  # saved whole, with its outcome
        if fan.max_parallel is not None:
            fields += _start_next(fan, now=now)
    fan.save(update_fields=fields)  # the counts and the items started, in one write
    return True


def _count_field(status):
    return "succeeded" if status == TxStatus.SUCCESS else "failed"


def _decide(fan, *, now):
    """Decide the join of `fan` (locked) if its counts do, and wake the parent waiting for it; return whether
    it is decided (then `fan` is saved, its counts with its outcome)."""
    counts = Counts(total=fan.total, succeeded=fan.succeeded, failed=fan.failed)
    outcome = decide(counts, join=fan.join, tolerated=fan.tolerated, first_n=fan.first_n, finish_all=fan.finish_all)
    if outcome is None:
        return False
    fan.outcome, fan.decided_at = outcome, now
    fan.save(update_fields=["started", "succeeded", "failed", "outcome", "decided_at"])
    faults.hit_fan_out(faults.FANOUT_AFTER_DECIDE, step=fan.step, fan_out=fan.pk)
    # The parent's lock first, then its sleeper (wake_if_waiting): a parent going to sleep on this join holds its
    # lock from its check of the join (undecided) until its sleeper is committed.
    wake_if_waiting(tx_id=fan.tx_id, fan_out_id=fan.pk, reason="children", now=now, actor="system",
                    why=f"the join of {fan.total} children was decided: {outcome}")
    return True


def _start_next(fan, *, now):
    """Start the next items of `fan` (locked) while fewer than `max_parallel` children run; return the fields of
    `fan` its caller saves (["started"], or none when none started)."""
    room = min(fan.max_parallel - fan.running, fan.total - fan.started)
    if room <= 0:
        return []
    # Not the parent's input and output: they hold every item (10,000, say), and this runs for each child.
    parent = Transaction.objects.filter(pk=fan.tx_id, status__in=TX_ACTIVE_VALUES).only(
        "id", "owner_id", "metadata").first()
    if parent is None:
        return []  # the parent ended: the rest never start
    template, created = new_transaction(owner=parent.owner_id, transaction_type=fan.pipeline, data={},
                                        metadata=parent.metadata, deadline=None, now=now, parent=parent,
                                        allow_child_only=True)
    rows = list(FanOutItem.objects.filter(fan_out=fan, index__gte=fan.started).order_by("index")[:room])
    children = _insert_children(fan, template, created, rows, actor="system")
    for row, child in zip(rows, children):
        FanOutItem.objects.filter(pk=row.pk, child__isnull=True).update(child_id=child.pk)
    fan.started += len(rows)
    return ["started"]


def close_for_parent(parent, *, now):
    """The parent ended: its undecided fan-outs start no more children (its end cancels the running ones)."""
    FanOut.objects.filter(tx_id=parent.pk, decided_at__isnull=True).update(outcome="closed", decided_at=now)


def group_of(fan, *, results=False):
    """The ChildGroup of `fan`, with its results once decided if `results`."""
    group = fan_out_group(fan=fan)
    if results and fan.outcome is not None:
        group = dataclasses.replace(group, results=_results(fan))
    return group


def _results(fan):
    rows = FanOutItem.objects.filter(fan_out=fan).order_by("index").values_list(
        "index", "status", "child_id", "child__status", "child__output")
    return [{"index": index, "tx_id": child_id, "status": status or child_status or "not_started",
             "data": output if (status or child_status) and is_terminal(status or child_status) else None}
            for index, status, child_id, child_status, output in rows]


def children_state(*, parent_id, fan_out_id):
    """The ChildGroup of a fan-out of `parent_id`, with its results once decided."""
    fan = FanOut.objects.filter(pk=fan_out_id, tx_id=parent_id).first()
    if fan is None:
        raise InvalidRequest(f"No fan-out {fan_out_id} of this transaction.")
    return group_of(fan, results=True)
