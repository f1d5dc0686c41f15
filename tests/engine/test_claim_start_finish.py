"""The start, the claim and the finish in one statement each on PostgreSQL (engine.services.state: start,
claim, finish) write what the general path wrote, and give way to
it whenever a condition of the fast path does not hold; on SQLite the general path does it all."""
from dataclasses import replace
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from engine import clock
from engine.errors import LeaseLost
from engine.models import JournalEntry, NodeGroup, StepRun, Transaction, WebhookDelivery
from engine.services.execution import step_complete, tx_claim
from engine.signals import transaction_finished
from engine.steps.outcomes import Outcome

_FRAMING = ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE SAVEPOINT")
TWO_STEPS = {"name": "two", "steps": [{"name": "a", "type": "util/echo"}, {"name": "b", "type": "util/echo"}]}


def _statements(queries):
    return [q["sql"] for q in queries.captured_queries if not q["sql"].startswith(_FRAMING)]


def _is_postgres():
    return connection.vendor == "postgresql"


@pytest.fixture
def two(harness):
    harness.load(TWO_STEPS)
    return harness


def _claim():
    return tx_claim(node_group="master", node="vm:1/42")


def _last_step(two, data=None, **start):
    tx_id = two.start("two", data or {"n": 1}, **start)
    first = _claim()
    return tx_id, step_complete(run=first, outcome=Outcome("success", None, {"n": 2}), logs=[], error=None)


@pytest.mark.fast_paths
def test_a_start_is_two_statements_on_postgresql_and_journals_the_creation(two):
    two.start("two", {"n": 0})  # the first start reads its pipeline and its version's definition, once per process
    with CaptureQueriesContext(connection) as queries:
        tx_id = two.start("two", {"n": 1}, external_id="order-7")
    if _is_postgres():  # the external id's earlier use, the insert (which checks the pipeline is unchanged)
        assert len(_statements(queries)) == 2
    tx = Transaction.objects.get(pk=tx_id)
    assert (tx.status, tx.step_name, tx.input, tx.external_id, tx.step_seq) == ("queued", "a", {"n": 1}, "order-7", 0)
    created = JournalEntry.objects.get(tx_id=tx_id, kind="created")
    assert created.data["transaction_type"] == "two" and created.data["external_id"] == "order-7"
    assert created.data["version"] == tx.version_id


@pytest.mark.fast_paths
def test_a_start_after_a_publish_takes_the_new_version_though_this_process_read_the_old_one(two):
    first = Transaction.objects.get(pk=two.start("two", {"n": 0}))
    (version,) = two.load({**TWO_STEPS, "steps": [{"name": "b", "type": "util/echo"}]})
    with CaptureQueriesContext(connection) as queries:
        tx_id = two.start("two", {"n": 1})
    tx = Transaction.objects.get(pk=tx_id)
    assert (tx.version_id, tx.step_name) == (version.pk, "b") and first.version_id != version.pk
    assert JournalEntry.objects.get(tx_id=tx.pk, kind="created").data["version"] == version.pk
    assert Transaction.objects.filter(pipeline_name="two").count() == 2  # the stale insert wrote nothing
    if _is_postgres():  # the insert that found the pipeline changed, its read, the new definition's, the insert
        assert len(_statements(queries)) == 4
    with CaptureQueriesContext(connection) as queries:
        two.start("two", {"n": 2})
    if _is_postgres():
        assert len(_statements(queries)) == 1


def test_a_second_start_with_the_same_external_id_and_data_returns_the_first(two):
    first = two.start("two", {"n": 1}, external_id="order-8")
    assert two.start("two", {"n": 1}, external_id="order-8") == first
    assert Transaction.objects.filter(external_id="order-8").count() == 1


@pytest.mark.fast_paths
def test_a_claim_is_one_statement_on_postgresql_and_writes_the_lease_the_journal_and_the_step_run(two):
    tx_id = two.start("two", {"n": 1})
    with CaptureQueriesContext(connection) as queries:
        run = _claim()
    if _is_postgres():
        assert len(_statements(queries)) == 1
    tx = Transaction.objects.get(pk=tx_id)
    assert (tx.status, tx.lease_token, tx.node, tx.step_seq) == ("running", run.token, "vm:1/42", 1)
    assert tx.visit_started_at == run.started_at and tx.lease_expires_at > clock.now()
    step_run = StepRun.objects.get(pk=run.run_id)
    assert (step_run.seq, step_run.step, step_run.step_type, step_run.input, step_run.status) == (
        1, "a", "util/echo", {"n": 1}, "running")
    assert (run.step_name, run.step_type, run.input, run.seq, run.visit, run.pipeline) == (
        "a", "util/echo", {"n": 1}, 1, 1, "two")
    entry = JournalEntry.objects.filter(tx_id=tx_id, kind="status").get()
    assert (entry.actor, entry.step, entry.data) == ("system", "a", {"from": "queued", "to": "running",
                                                                     "node": "vm:1/42"})


def test_a_claim_takes_the_pending_input_and_hands_the_wake_reason_to_the_run_once(two):
    tx_id = two.start("two", {"n": 1})
    Transaction.objects.filter(pk=tx_id).update(pending_input={"p": 1}, wake_reason="switch")
    run = _claim()
    assert (run.input, run.wake_reason) == ({"p": 1}, "switch")
    tx = Transaction.objects.get(pk=tx_id)
    assert (tx.pending_input, tx.wake_reason) == (None, None)


def test_a_step_claimed_again_reads_the_input_of_its_last_run(two):
    tx_id = two.start("two", {"n": 1})
    first = _claim()
    Transaction.objects.filter(pk=tx_id).update(status="queued", lease_token=None, input={"ignored": True})
    again = _claim()
    assert (again.seq, again.input, again.step_name) == (2, {"n": 1}, "a")
    assert first.token != again.token


def test_a_paused_group_claims_nothing_and_a_concurrency_limit_holds(two):
    two.start("two", {"n": 1})
    two.start("two", {"n": 2})
    NodeGroup.objects.filter(pk="master").update(paused=True)
    assert _claim() is None
    NodeGroup.objects.filter(pk="master").update(paused=False, max_concurrency=1)
    assert _claim() is not None
    assert _claim() is None


def test_a_queued_transaction_whose_deadline_passed_is_not_run_but_ends_as_timeout(two):
    late = two.start("two", {"n": 1}, deadline="PT1S")
    on_time = two.start("two", {"n": 2})
    two.clock.move_to(clock.now() + timedelta(seconds=5))
    run = _claim()
    assert run.tx_id == on_time
    assert _claim() is None
    assert Transaction.objects.get(pk=late).status == "timeout"
    assert not StepRun.objects.filter(tx_id=late).exists()


@pytest.mark.fast_paths
def test_the_last_step_ends_the_transaction_in_one_statement_on_postgresql_with_the_same_rows(
        two, django_capture_on_commit_callbacks):
    finished = []

    def receiver(**kwargs):
        finished.append((kwargs["tx_id"], kwargs["status"]))

    transaction_finished.connect(receiver)
    try:
        tx_id, last = _last_step(two)
        with CaptureQueriesContext(connection) as queries, django_capture_on_commit_callbacks(execute=True):
            assert step_complete(run=last, outcome=Outcome("success", "all done", {"n": 3}), logs=["x"],
                                 error=None) is None
    finally:
        transaction_finished.disconnect(receiver)
    if _is_postgres():
        assert len(_statements(queries)) == 1
    tx = Transaction.objects.get(pk=tx_id)
    assert (tx.status, tx.output, tx.note, tx.lease_token, tx.lease_expires_at) == (
        "success", {"n": 3}, "all done", None, None)
    assert tx.completed_at is not None
    ended = StepRun.objects.get(pk=last.run_id)
    assert (ended.status, ended.output, ended.logs, ended.note) == ("success", {"n": 3}, ["x"], "all done")
    entry = JournalEntry.objects.filter(tx_id=tx_id, kind="status").last()
    assert (entry.actor, entry.step, entry.data) == ("step:b", "b", {"from": "running", "to": "success",
                                                                     "note": "all done"})
    assert finished == [(tx_id, "success")]


def test_a_failed_last_step_ends_the_transaction_failed_with_the_step_input_as_output(two):
    tx_id, last = _last_step(two)
    step_complete(run=last, outcome=Outcome("failed", "declined"), logs=[], error=None)
    tx = Transaction.objects.get(pk=tx_id)
    assert (tx.status, tx.note, tx.output) == ("failed", "declined", {"n": 2})
    assert StepRun.objects.get(pk=last.run_id).status == "failed"


def test_a_finish_without_the_lease_writes_nothing_and_raises_lease_lost(two):
    tx_id, last = _last_step(two)
    with pytest.raises(LeaseLost):
        step_complete(run=replace(last, token="stolen"), outcome=Outcome("success"), logs=[], error=None)
    assert Transaction.objects.get(pk=tx_id).status == "running"
    assert StepRun.objects.get(pk=last.run_id).status == "running"


def test_a_transaction_with_a_webhook_finishes_through_the_general_path_with_its_delivery(two):
    tx_id, last = _last_step(two, webhook="https://example.com/hook")
    step_complete(run=last, outcome=Outcome("success"), logs=[], error=None)
    assert Transaction.objects.get(pk=tx_id).status == "success"
    delivery = WebhookDelivery.objects.get(tx_id=tx_id)
    assert delivery.payload["transaction"]["status"] == "success"


def _prepared():
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [statement for (statement,) in cursor.fetchall()]


@pytest.mark.fast_paths
@pytest.mark.postgres_only
def test_the_hot_statements_are_prepared_once_per_connection_on_postgresql(two):
    for n in range(3):
        _last_step(two, {"n": n})
    claims = [statement for statement in _prepared() if statement.lstrip().startswith("WITH cand AS")]
    assert len(claims) == 1


@pytest.mark.postgres_only
def test_preparing_can_be_turned_off_for_a_pooler_that_does_not_track_prepared_statements(db, settings):
    from engine.services import statements

    settings.DATP = {**getattr(settings, "DATP", {}), "PREPARED_STATEMENTS": False}
    assert statements.rows("SELECT %(a)s::int + 41", {"a": 1}) == [(42,)]
    assert "SELECT $1::int + 41" not in _prepared()
    settings.DATP = {**settings.DATP, "PREPARED_STATEMENTS": True}
    assert statements.rows("SELECT %(a)s::int + 41", {"a": 2}) == [(43,)]
    assert "SELECT $1::int + 41" in _prepared()
