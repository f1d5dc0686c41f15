"""A wake-up races the checkpoint that puts its transaction to sleep on the very thing that wakes it: the join's
last child, a lone child, a final callback (PostgreSQL, real threads, each on its own connection). The waiter's
checkpoint is held just after it found the thing not done yet and before it writes its sleeper, while the
wake-up runs: whichever commits first, the waiter is woken (or re-queued) once, never left asleep on what
already happened. The waker locks the waiter before it reads its sleeper, so it reads it after the commit."""
import threading
import time

import pytest
from django.db import connection

from engine.models import FanOut, JournalEntry, Sleeper, Transaction
from engine.runtime import executor
from engine.services import callbacks, routing
from engine.services.execution import step_complete, tx_claim

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]

ITEM = {"name": "race-item", "transaction_type": False, "steps": [{"name": "only", "type": "util/echo"}]}
MAPPER = {"name": "race-map", "steps": [
    {"name": "each", "type": "util/map", "config": {"items": "/items", "pipeline": "race-item"}}]}
LONE_PARENT = {"name": "race-parent", "steps": [
    {"name": "call", "type": "util/child-pipeline", "config": {"pipeline": "race-item"}}]}
AWAITER = {"name": "race-awaiter", "steps": [
    {"name": "cb", "type": "util/callback", "config": {"name": "cb"}},
    {"name": "await", "type": "util/await", "config": {"callback": "cb"}}]}


def _blocked_or_done(thread, timeout=20):
    """Wait until `thread` ended or some backend of this database waits on a row lock."""
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline and thread.is_alive():
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                           "AND wait_event_type = 'Lock'")
            if cursor.fetchone()[0]:
                return
            time.sleep(0.01)


def race(monkeypatch, *, waiter_run, waiting, wake_up):
    """Hold the checkpoint of `waiter_run` (asking to `waiting`) after its check, run `wake_up` in another
    thread meanwhile, release the checkpoint; return the waiter's status and whether it still has a sleeper."""
    checked, release = threading.Event(), threading.Event()
    original = routing._already_woken

    def held_after_the_check(tx, run, wait, now):
        why = original(tx, run, wait, now)
        if run.tx_id == waiter_run.tx_id:
            checked.set()
            assert release.wait(30)
        return why

    monkeypatch.setattr(routing, "_already_woken", held_after_the_check)
    errors = []

    def in_thread(call):
        try:
            call()
        except BaseException as exc:  # re-raised in the test's thread below
            errors.append(exc)
        finally:
            connection.close()

    waiter = threading.Thread(target=in_thread, args=(lambda: step_complete(run=waiter_run, outcome=waiting),))
    waiter.start()
    assert checked.wait(30), "the waiter's checkpoint did not check what it waits for"
    waker = threading.Thread(target=in_thread, args=(wake_up,))
    waker.start()
    _blocked_or_done(waker)  # the wake-up committed, or waits for the waiter's lock
    release.set()
    waiter.join(30)
    waker.join(30)
    assert not errors, errors
    tx_id = waiter_run.tx_id
    queued = JournalEntry.objects.filter(tx_id=tx_id, data__to="queued", at__gte=waiter_run.started_at).count()
    return Transaction.objects.get(pk=tx_id).status, Sleeper.objects.filter(tx_id=tx_id).exists(), queued


def claimed_and_run(group="master"):
    """Claim the oldest queued transaction and run its step: (its Run, the step's outcome)."""
    run = tx_claim(node_group=group, node="worker")
    outcome, _, _, _ = executor.invoke(run)
    return run, outcome


def test_the_last_child_ending_while_the_parent_goes_to_sleep_on_the_join_wakes_it(harness, monkeypatch):
    harness.load(ITEM, MAPPER)
    parent_id = harness.start("race-map", {"items": [1]})
    parent_run, waiting = claimed_and_run()  # the children are started; the step asks to wait
    child_run, ended = claimed_and_run()  # the child's step succeeded; its checkpoint is next
    assert child_run.tx_id != parent_id and waiting.children is not None
    found = race(monkeypatch, waiter_run=parent_run, waiting=waiting,
                 wake_up=lambda: step_complete(run=child_run, outcome=ended))
    assert found == ("queued", False, 1), f"(status, has a sleeper, times queued) {found}: a lost wake-up"
    [fan] = FanOut.objects.filter(tx_id=parent_id)
    assert (fan.outcome, fan.succeeded) == ("success", 1)
    assert harness.run(parent_id).status == "success"


def test_a_lone_child_ending_while_its_parent_goes_to_sleep_on_it_wakes_it(harness, monkeypatch):
    harness.load(ITEM, LONE_PARENT)
    parent_id = harness.start("race-parent", {})
    parent_run, waiting = claimed_and_run()
    child_run, ended = claimed_and_run()
    assert waiting.child == child_run.tx_id
    found = race(monkeypatch, waiter_run=parent_run, waiting=waiting,
                 wake_up=lambda: step_complete(run=child_run, outcome=ended))
    assert found == ("queued", False, 1), f"(status, has a sleeper, times queued) {found}: a lost wake-up"
    assert Transaction.objects.get(pk=child_run.tx_id).status == "success"
    assert harness.run(parent_id).status == "success"


def test_a_callback_made_final_while_its_awaiter_goes_to_sleep_on_it_wakes_it(harness, monkeypatch):
    """FOR NO KEY UPDATE on the callback lets the awaiter's commit (its sleeper's foreign key) pass meanwhile."""
    harness.load(AWAITER)
    tx_id = harness.start("race-awaiter", {})
    first, created = claimed_and_run()
    await_run = step_complete(run=first, outcome=created)  # the callback exists; the await step is next
    waiting, _, _, _ = executor.invoke(await_run)
    assert waiting.callback == "cb"
    token = harness.callback_token(tx_id, "cb")
    found = race(monkeypatch, waiter_run=await_run, waiting=waiting, wake_up=lambda: callbacks.callback_update(
        token=token, status="complete", data={"ok": True}, actor="partner"))
    assert found == ("queued", False, 1), f"(status, has a sleeper, times queued) {found}: a lost wake-up"
    assert harness.run(tx_id).status == "success"
