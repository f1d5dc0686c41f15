"""Concurrency on PostgreSQL with real threads, each on its own connection: claims never collide, racing
switch setters lose no change and no wake-up, max_concurrency holds, and the hot queries use their indexes."""
import threading
import time

import pytest
from django.db import connection, transaction

from engine.models import JournalEntry, NodeGroup, Sleeper, Switch, Transaction
from engine.runtime import executor
from engine.services import switches
from engine.services.execution import tx_claim
from engine.steps import Step, registry

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]

ECHO = {"name": "quick", "steps": [{"name": "only", "type": "util/echo"}]}
READER = {"name": "reader", "steps": [{"name": "read", "type": "test/read-switch"}]}
UNTIL_FINAL = {"name": "until-final", "steps": [{"name": "read", "type": "test/until-final"}]}


class ReadSwitch(Step):
    """Sleep on switch `s` until it holds a value; succeed with the value read."""

    type_name = "test/read-switch"

    def invoke(self, ctx):
        value = ctx.get_switch("s")
        if value is None:
            return ctx.wait(switch="s", note="saw None")
        return ctx.succeeded(output={"seen": value})


class UntilFinal(Step):
    """Sleep on switch `s` until it holds "final"; each sleep's note says what was read."""

    type_name = "test/until-final"

    def invoke(self, ctx):
        value = ctx.get_switch("s")
        if value != "final":
            return ctx.wait(switch="s", note=f"saw {value}")
        return ctx.succeeded(output={"seen": value})


@pytest.fixture
def steps():
    for step_type in (ReadSwitch, UntilFinal):
        registry.register(step_type)
    yield
    for step_type in (ReadSwitch, UntilFinal):
        registry.unregister(step_type.type_name)


def in_threads(count, work):
    """Run work(i) in `count` threads released together; return their results, raising their first error."""
    barrier = threading.Barrier(count)
    results, errors = [None] * count, []

    def body(index):
        try:
            barrier.wait(timeout=30)
            results[index] = work(index)
        except BaseException as exc:  # re-raised in the test's thread below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=body, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a thread did not finish"
    if errors:
        raise errors[0]
    return results


def test_eight_threads_claim_two_hundred_transactions_each_exactly_once(harness):
    harness.load(ECHO)
    tx_ids = {harness.start("quick", {"n": n}) for n in range(200)}

    def claim_all(index):
        claimed = []
        while (run := tx_claim(node_group="master", node=f"worker-{index}")) is not None:
            claimed.append(run.tx_id)
        return claimed

    claims = [tx_id for claimed in in_threads(8, claim_all) for tx_id in claimed]
    assert len(claims) == len(set(claims)) == 200
    assert set(claims) == tx_ids
    assert Transaction.objects.filter(status="running").count() == 200
    assert JournalEntry.objects.filter(kind="status", data__to="running").count() == 200


def test_twenty_setters_wake_a_sleeping_transaction_exactly_once_and_every_change_is_kept(harness, steps):
    harness.load(READER)
    tx_id = harness.start("reader", {})
    assert harness.run(tx_id).status == "sleeping"

    def set_value(index):
        return harness.set_switch(tx_id, "s", f"v{index}")["action"]

    actions = in_threads(20, set_value)
    assert sorted(actions) == ["updated"] * 19 + ["woken"]
    journal = harness.result(tx_id).journal
    changes = [entry.data["value"] for entry in journal if entry.kind == "switch"]
    assert sorted(changes) == sorted(f"v{index}" for index in range(20))
    assert sum(entry.kind == "woken" for entry in journal) == 1
    latest = Switch.objects.get(tx_id=tx_id, name="s").value
    assert latest == changes[-1]
    result = harness.run(tx_id)
    assert (result.status, result.data) == ("success", {"seen": latest})


def test_setters_racing_the_step_going_to_sleep_lose_no_wake_up(harness, steps):
    harness.load(UNTIL_FINAL)
    tx_id = harness.start("until-final", {})
    harness.settle()
    stop, lock, setters_left = threading.Event(), threading.Lock(), [20]

    def work(index):
        if index == 0:  # the worker: runs every wake-up until the setters are done and nothing is ready
            while True:
                stopping = stop.is_set()
                if not harness.step() and stopping:
                    return
        for round_ in range(5):
            harness.set_switch(tx_id, "s", f"v{index}.{round_}")
        with lock:
            setters_left[0] -= 1
            if not setters_left[0]:
                stop.set()

    in_threads(21, work)
    switch = Switch.objects.get(tx_id=tx_id, name="s")
    result = harness.result(tx_id)
    # Had a change made while the step ran been lost, the step would sleep having read an older value.
    assert (result.status, switch.unread) == ("sleeping", False)
    last_sleep = [run for run in result.step_runs if run.status == "sleeping"][-1]
    assert last_sleep.note == f"saw {switch.value}"
    changes = [entry.data["value"] for entry in result.journal if entry.kind == "switch"]
    assert sorted(changes) == sorted(f"v{index}.{round_}" for index in range(1, 21) for round_ in range(5))
    assert changes[-1] == switch.value
    harness.set_switch(tx_id, "s", "final")
    final = harness.run(tx_id)
    assert (final.status, final.data) == ("success", {"seen": "final"})


def test_max_concurrency_of_a_node_group_holds_under_concurrent_claims(harness):
    harness.load({"name": "limited", "node_group": "limited", "steps": [{"type": "util/echo"}]})
    NodeGroup.objects.filter(pk="limited").update(max_concurrency=3)
    for n in range(30):
        harness.start("limited", {"n": n})

    def claim_without_finishing(index):
        return [run.tx_id for run in iter(lambda: tx_claim(node_group="limited", node=f"w{index}"), None)]

    claims = [tx_id for claimed in in_threads(8, claim_without_finishing) for tx_id in claimed]
    assert len(claims) == len(set(claims)) == 3
    assert Transaction.objects.filter(node_group_id="limited", status="running").count() == 3


def test_max_concurrency_holds_while_workers_claim_and_finish(harness):
    harness.load({"name": "limited", "node_group": "limited", "steps": [{"type": "util/echo"}]})
    NodeGroup.objects.filter(pk="limited").update(max_concurrency=2)
    tx_ids = [harness.start("limited", {"n": n}) for n in range(40)]
    lock, in_flight, peak = threading.Lock(), [0], [0]

    def claim_and_run(index):
        idle = 0
        while idle < 200 and Transaction.objects.filter(node_group_id="limited", status="queued").exists():
            run = tx_claim(node_group="limited", node=f"w{index}")
            if run is None:
                idle += 1
                continue
            idle = 0
            with lock:
                in_flight[0] += 1
                peak[0] = max(peak[0], in_flight[0])
            # Counted from after the claim committed to after the checkpoint committed: a window
            # inside the one in which the database counts the transaction as running.
            executor.run_claimed(run)
            with lock:
                in_flight[0] -= 1

    in_threads(8, claim_and_run)
    harness.settle()
    assert peak[0] <= 2
    assert set(Transaction.objects.filter(pk__in=tx_ids).values_list("status", flat=True)) == {"success"}


def _plan(queryset):
    # On a tiny table the planner rightly prefers a sequential scan; forbidding it for this one
    # transaction (SET LOCAL) shows which index the query can use once the table is large.
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
        return queryset.explain()


def test_the_claim_query_uses_the_partial_claim_index(harness):
    harness.load(ECHO)
    for n in range(20):
        harness.start("quick", {"n": n})
    harness.settle()
    harness.start("quick", {})
    plan = _plan(Transaction.objects.filter(node_group_id="master", status="queued").order_by("queued_at")
                 .values_list("pk", flat=True)[:1])
    assert "tx_claim_idx" in plan


def test_the_due_sleepers_query_uses_the_partial_due_index(harness):
    harness.load({"name": "nap", "steps": [{"type": "util/sleep", "config": {"duration": "P1D"}}]})
    for n in range(20):
        harness.start("nap", {"n": n})
    harness.settle()
    assert Sleeper.objects.count() == 20
    plan = _plan(Sleeper.objects.due(harness.now()).values_list("tx_id", flat=True)[:500])
    assert "sleeper_due_idx" in plan


def _wait_for_a_blocked_backend(timeout=20):
    """Wait until some backend of this database waits on a lock (the statement under test has taken its snapshot)."""
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                           "AND wait_event_type = 'Lock'")
            if cursor.fetchone()[0]:
                return
            time.sleep(0.01)
    raise AssertionError("no statement blocked on the transaction's lock")


def test_a_step_reading_a_switch_while_a_setter_holds_the_lock_sees_the_new_value_or_leaves_it_unread(harness, steps):
    """The read's statement takes its snapshot, then waits for the transaction's lock held by a setter.
    Once the setter commits, the read must return the value it set, or leave the switch unread so the step
    runs again: reading the older value *and* clearing the flag would lose the wake-up."""
    harness.load(READER)
    tx_id = harness.start("reader", {})
    Switch.objects.create(tx_id=tx_id, name="s", value="old", unread=True, set_at=harness.clock.now(),
                          set_by="t")
    run = tx_claim(node_group="master", node="reader")
    locked, release, read = threading.Event(), threading.Event(), []

    def setter(index):
        if index == 0:
            with transaction.atomic():
                Transaction.objects.select_for_update().get(pk=tx_id)
                Switch.objects.filter(tx_id=tx_id, name="s").update(value="new", unread=True)
                locked.set()
                assert release.wait(30)
            return
        assert locked.wait(30)
        read.append(switches.switch_read(tx_id=tx_id, name="s", lease=run.lease))

    threads = [threading.Thread(target=lambda i=i: _closing(setter, i)) for i in range(2)]
    for thread in threads:
        thread.start()
    assert locked.wait(30)
    _wait_for_a_blocked_backend()
    release.set()
    for thread in threads:
        thread.join(30)
    switch = Switch.objects.get(tx_id=tx_id, name="s")
    assert read == ["new"] or switch.unread, f"read {read} and unread={switch.unread}: a wake-up was lost"
    assert read == ["new"]
    assert switch.unread is False


def _closing(work, index):
    try:
        work(index)
    finally:
        connection.close()
