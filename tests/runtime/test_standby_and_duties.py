"""A drain on standby (PostgreSQL) runs work that arrives after it emptied the queue and ends on a stop
notice; a node's tick asks one question when idle and runs only the duties that have something to do."""
import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from engine import clock, notices
from engine.models import Transaction
from engine.runtime import node as node_module
from engine.runtime import tasks
from engine.services import duties, nodes

ECHO = {"name": "quick", "steps": [{"name": "only", "type": "util/echo"}]}
NAP = {"name": "nap", "steps": [{"name": "nap", "type": "util/sleep", "config": {"duration": "PT1H"}}]}


@pytest.fixture
def standby(monkeypatch, settings):
    """tasks.drain in a thread, with a short standby; records the drains it queues instead of queueing them."""
    settings.DATP = {**getattr(settings, "DATP", {}), "STANDBY_SECONDS": 3.0}
    queued = []
    monkeypatch.setattr(tasks, "enqueue_drain", queued.append)
    done = {}

    def start():
        def body():
            try:
                done["count"] = tasks.drain("master")
            finally:
                connection.close()
        thread = threading.Thread(target=body)
        thread.start()
        return thread

    yield start, queued, done
    for listener in tasks._notices:  # the worker's LISTEN connection, kept for the process
        listener.close()
    tasks._notices.clear()


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_standby_drain_runs_a_transaction_started_after_it_emptied_the_queue(harness, standby):
    start, queued, done = standby
    harness.load(ECHO)
    thread = start()
    time.sleep(0.5)  # the queue was empty: the drain now waits for notices
    tx_id = harness.start("quick", {"n": 1})
    notices.notify(notices.WORK_CHANNEL, "master")  # the inline dispatcher of the tests sends none itself
    deadline = time.monotonic() + 2.5
    while Transaction.objects.get(pk=tx_id).status != "success" and time.monotonic() < deadline:
        time.sleep(0.02)
    assert Transaction.objects.get(pk=tx_id).status == "success"
    thread.join(timeout=10)
    assert done["count"] == 1
    assert queued == ["master"]  # at the end of its standby it handed over to a fresh standby drain


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_standby_drain_ends_at_once_when_its_node_stops_and_queues_no_successor(harness, standby, monkeypatch):
    start, queued, done = standby
    node_id = nodes.node_register(group="master", workers=1)
    monkeypatch.setenv("DATP_NODE_ID", node_id)
    thread = start()
    time.sleep(0.5)
    began = time.monotonic()
    nodes.node_stopping(node_id=node_id)
    thread.join(timeout=10)
    assert not thread.is_alive() and time.monotonic() - began < 2.0
    assert done["count"] == 0 and queued == []


class _Cluster:
    alive = True
    started_at = time.monotonic()


def _node():
    node = node_module.Node(group="master", workers=1)
    node.node_id = nodes.node_register(group="master", workers=1)
    node.cluster = _Cluster()
    node._fresh_at = time.monotonic()  # closing old connections would close the test's own transaction
    return node


@pytest.mark.fast_paths
@pytest.mark.postgres_only
def test_an_idle_tick_asks_one_question(harness):
    node = _node()
    node.tick()  # the first tick beats
    with CaptureQueriesContext(connection) as queries:
        wait = node.tick()
    assert len(queries.captured_queries) == 1
    assert wait == node_module.IDLE_WAIT_SECONDS


def test_a_tick_wakes_a_due_timer_and_asks_again_at_once(harness):
    harness.load(NAP)
    tx_id = harness.start("nap", {})
    harness.settle()
    node = _node()
    assert 0 < node.tick() <= node_module.IDLE_WAIT_SECONDS
    harness.clock.move_to(clock.now() + timedelta(hours=1, seconds=1))
    assert node.tick() == 0.0
    assert Transaction.objects.get(pk=tx_id).status == "queued"


def test_the_due_answers_name_each_duty_moment(harness):
    harness.load(NAP, ECHO)
    sleeping = harness.start("nap", {}, deadline="PT2H")
    harness.settle()
    harness.start("quick", {})
    due = duties.duties_due(group="master")
    tx = Transaction.objects.get(pk=sleeping)
    assert due.queued is True and due.bulk is False and due.webhook is None and due.lease is None
    assert due.deadline == tx.deadline_at and due.timer == harness.now() + timedelta(hours=1)
    assert due.journal is not None and min(due.moments()) == due.timer == duties.next_due_at()
    assert duties.duties_due(group="nobody").queued is False


@pytest.mark.fast_paths
@pytest.mark.postgres_only
def test_the_statement_and_the_general_read_give_the_same_answers(harness, settings):
    """Each answer set and each left empty, read both ways from the same rows."""
    harness.load(NAP, ECHO)

    def both(group="master"):
        fast = duties.duties_due(group=group)
        settings.DATP = {**settings.DATP, "FAST_PATHS": False}
        general = duties.duties_due(group=group)
        settings.DATP = {**settings.DATP, "FAST_PATHS": True}
        assert fast == general
        return fast

    empty = both()
    assert empty.moments() == [] and not empty.queued and not empty.bulk
    harness.start("quick", {}, webhook="https://example.com/hook")  # finishes: its delivery waits to be sent
    harness.start("nap", {}, deadline="PT2H")
    harness.settle()
    harness.start("quick", {})
    Transaction.objects.filter(status="queued").update(status="running", lease_expires_at=clock.now())
    harness.start("quick", {})
    full = both()
    assert full.queued and None not in (full.deadline, full.lease, full.timer, full.webhook, full.journal)
    assert both("nobody").queued is False


@pytest.mark.fast_paths
@pytest.mark.postgres_only
def test_the_figures_are_recomputed_only_after_something_was_journaled(harness):
    harness.load(ECHO)
    node = _node()

    def refresh():
        node._figures_at = 0.0  # as if REFRESH_SECONDS had passed
        with CaptureQueriesContext(connection) as queries:
            node.refresh_figures(duties.duties_due(group="master"), clock.now())
        return len(queries.captured_queries)

    assert refresh() > 1  # the first one reads the tables
    assert refresh() == 1  # nothing journaled since: only the question itself
    harness.start("quick", {})
    assert refresh() > 1
