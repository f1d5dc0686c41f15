"""A wake-up races the checkpoint that puts its transaction to sleep on the very thing that wakes it: the join's
last child, a lone child, a final callback (PostgreSQL, real threads, each on its own connection). The waiter
is woken (or re-queued) once, never left asleep on what already happened."""
import threading
import time

import pytest
from django.db import connection

from engine.models import FanOut, JournalEntry, Sleeper, Transaction
from engine.runtime import executor
from engine.services import callbacks, routing
from engine.services.execution import step_complete, tx_claim

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]

PARENT = {"name": "race-map", "steps": [
    {"name": "each", "type": "util/map", "config": {"items": "/items", "pipeline": "race-item"}}]}
ITEM = {"name": "race-item", "transaction_type": False, "steps": [{"name": "only", "type": "util/echo"}]}


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


def test_the_last_child_ending_while_the_parent_goes_to_sleep_on_the_join_wakes_it(harness, monkeypatch):
    """The parent's checkpoint has found the join undecided and is about to write its sleeper when the only
    child ends and decides the join: whichever commits first, the parent must not stay asleep. The deciding
    end locks the parent before it looks for the sleeper, so it reads it after the parent's commit."""
    harness.load(ITEM, PARENT)
    parent_id = harness.start("race-map", {"items": [1]})
    checked, release = threading.Event(), threading.Event()
    original = routing._already_woken

    def held_after_the_check(tx, run, wait, now):
        why = original(tx, run, wait, now)
        if wait.children is not None:
            checked.set()
            assert release.wait(30)
        return why

    parent_run = tx_claim(node_group="master", node="parent-worker")
    waiting, _, _, _ = executor.invoke(parent_run)  # the children are started; the step asks to wait
    child_run = tx_claim(node_group="master", node="child-worker")
    ended, _, _, _ = executor.invoke(child_run)  # the child's step succeeded; its checkpoint is next
    assert child_run.tx_id != parent_id and waiting.children is not None
    monkeypatch.setattr(routing, "_already_woken", held_after_the_check)
    errors = []

    def checkpoint(run, outcome):
        try:
            step_complete(run=run, outcome=outcome)
        except BaseException as exc:  # re-raised in the test's thread below
            errors.append(exc)
        finally:
            connection.close()

    parent = threading.Thread(target=checkpoint, args=(parent_run, waiting))
    parent.start()
    assert checked.wait(30), "the parent's checkpoint did not check its join"
    child = threading.Thread(target=checkpoint, args=(child_run, ended))
    child.start()
    _blocked_or_done(child)  # the child's end committed, or waits for the parent's lock
    release.set()
    parent.join(30)
    child.join(30)
    assert not errors, errors
    [fan] = FanOut.objects.filter(tx_id=parent_id)
    assert (fan.outcome, fan.succeeded) == ("success", 1)
    status = Transaction.objects.get(pk=parent_id).status
    assert not Sleeper.objects.filter(tx_id=parent_id).exists() and status == "queued", \
        f"the parent is {status} with a sleeper on a decided join: its wake-up was lost"
    queued = list(JournalEntry.objects.filter(tx_id=parent_id, data__to="queued").values_list("kind", "data"))
    assert len(queued) == 1, queued  # woken, or re-queued at its checkpoint: once
    assert harness.run(parent_id).status == "success"


LONE_PARENT = {"name": "race-parent", "steps": [
    {"name": "call", "type": "util/child-pipeline", "config": {"pipeline": "race-item"}}]}


def test_a_lone_child_ending_while_its_parent_goes_to_sleep_on_it_wakes_it(harness, monkeypatch):
    """The same race for a lone child (util/child-pipeline, ctx.start_child): the child's end locks the parent
    before it looks for the sleeper, so it reads it after the parent's commit."""
    harness.load(ITEM, LONE_PARENT)
    parent_id = harness.start("race-parent", {})
    checked, release = threading.Event(), threading.Event()
    original = routing._already_woken

    def held_after_the_check(tx, run, wait, now):
        why = original(tx, run, wait, now)
        if wait.child is not None:
            checked.set()
            assert release.wait(30)
        return why

    parent_run = tx_claim(node_group="master", node="parent-worker")
    waiting, _, _, _ = executor.invoke(parent_run)
    child_run = tx_claim(node_group="master", node="child-worker")
    ended, _, _, _ = executor.invoke(child_run)
    assert child_run.tx_id != parent_id and waiting.child == child_run.tx_id
    monkeypatch.setattr(routing, "_already_woken", held_after_the_check)
    errors = []

    def checkpoint(run, outcome):
        try:
            step_complete(run=run, outcome=outcome)
        except BaseException as exc:  # re-raised in the test's thread below
            errors.append(exc)
        finally:
            connection.close()

    parent = threading.Thread(target=checkpoint, args=(parent_run, waiting))
    parent.start()
    assert checked.wait(30), "the parent's checkpoint did not check its child"
    child = threading.Thread(target=checkpoint, args=(child_run, ended))
    child.start()
    _blocked_or_done(child)
    release.set()
    parent.join(30)
    child.join(30)
    assert not errors, errors
    assert Transaction.objects.get(pk=child_run.tx_id).status == "success"
    status = Transaction.objects.get(pk=parent_id).status
    assert not Sleeper.objects.filter(tx_id=parent_id).exists() and status == "queued", \
        f"the parent is {status} with a sleeper on a finished child: its wake-up was lost"
    assert harness.run(parent_id).status == "success"


AWAITER = {"name": "race-awaiter", "steps": [
    {"name": "cb", "type": "util/callback", "config": {"name": "cb"}},
    {"name": "await", "type": "util/await", "config": {"callback": "cb"}}]}


def test_a_callback_made_final_while_its_awaiter_goes_to_sleep_on_it_wakes_it(harness, monkeypatch):
    """The same race for a callback: a partner's final report locks the awaiting transaction before it looks
    for its sleeper, so it reads it after the awaiter's checkpoint commits (FOR NO KEY UPDATE on the callback
    lets that commit's foreign key check pass meanwhile)."""
    harness.load(AWAITER)
    tx_id = harness.start("race-awaiter", {})
    checked, release = threading.Event(), threading.Event()
    original = routing._already_woken

    def held_after_the_check(tx, run, wait, now):
        why = original(tx, run, wait, now)
        if wait.callback is not None:
            checked.set()
            assert release.wait(30)
        return why

    first = tx_claim(node_group="master", node="worker")
    created, _, _, _ = executor.invoke(first)
    await_run = step_complete(run=first, outcome=created)  # the callback exists; the await step is next
    waiting, _, _, _ = executor.invoke(await_run)
    assert waiting.callback == "cb"
    token = harness.callback_token(tx_id, "cb")
    monkeypatch.setattr(routing, "_already_woken", held_after_the_check)
    errors = []

    def in_thread(call):
        try:
            call()
        except BaseException as exc:  # re-raised in the test's thread below
            errors.append(exc)
        finally:
            connection.close()

    awaiter = threading.Thread(target=in_thread, args=(lambda: step_complete(run=await_run, outcome=waiting),))
    awaiter.start()
    assert checked.wait(30), "the await step's checkpoint did not check its callback"
    partner = threading.Thread(target=in_thread, args=(
        lambda: callbacks.callback_update(token=token, status="complete", data={"ok": True}, actor="partner"),))
    partner.start()
    _blocked_or_done(partner)
    release.set()
    awaiter.join(30)
    partner.join(30)
    assert not errors, errors
    status = Transaction.objects.get(pk=tx_id).status
    assert not Sleeper.objects.filter(tx_id=tx_id).exists() and status == "queued", \
        f"the awaiter is {status} with a sleeper on a final callback: its wake-up was lost"
    assert harness.run(tx_id).status == "success"
