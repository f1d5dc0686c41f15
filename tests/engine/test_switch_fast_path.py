"""A switch's first value waking the transaction that sleeps on it, and a step reading a switch, are one
statement each on PostgreSQL and write what the general path wrote; every other case takes the general path."""
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from engine.models import JournalEntry, Sleeper, Switch, Transaction
from engine.services import switches

WAITER = {"name": "waiter", "steps": [{"name": "wait", "type": "util/wait-switch", "config": {"switch": "go"}}]}
_FRAMING = ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE SAVEPOINT")


@pytest.fixture
def sleeping(harness):
    harness.load(WAITER)
    tx_id = harness.start("waiter", {})
    harness.settle()
    assert harness.result(tx_id).status == "sleeping"
    return tx_id


def _set(tx_id, value, owner="test"):
    return switches.switch_set(tx_id=tx_id, name="go", value=value, actor="user:ann", reason="ok", owner=owner)


@pytest.mark.fast_paths
def test_the_first_value_wakes_the_sleeping_transaction_in_one_statement_on_postgresql(harness, sleeping):
    with CaptureQueriesContext(connection) as queries:
        result = _set(sleeping, "yes")
    if connection.vendor == "postgresql":
        assert len([q for q in queries.captured_queries if not q["sql"].startswith(_FRAMING)]) == 1
    assert result["action"] == "woken" and result["switch"]["value"] == "yes"
    tx = Transaction.objects.get(pk=sleeping)
    assert (tx.status, tx.wake_reason, tx.lease_token) == ("queued", "switch", None) and tx.queued_at is not None
    assert not Sleeper.objects.filter(tx_id=sleeping).exists()
    switch = Switch.objects.get(tx_id=sleeping, name="go")
    assert (switch.value, switch.unread, switch.set_by) == ("yes", True, "user:ann")
    entries = list(JournalEntry.objects.filter(tx_id=sleeping, kind__in=["switch", "woken"]).order_by("id"))
    assert [(e.kind, e.actor, e.step) for e in entries] == [("switch", "user:ann", "wait"),
                                                           ("woken", "user:ann", "wait")]
    assert entries[0].data == {"name": "go", "value": "yes", "channel": "api", "reason": "ok"}
    assert entries[1].data == {"from": "sleeping", "to": "queued", "note": None, "why": "switch go set",
                               "reason": "switch"}
    assert harness.run(sleeping).status == "success"


def test_another_owner_cannot_set_the_switch_and_nothing_changes(harness, sleeping):
    from engine.errors import TransactionNotFound

    with pytest.raises(TransactionNotFound):
        _set(sleeping, "yes", owner="other")
    assert Transaction.objects.get(pk=sleeping).status == "sleeping"
    assert not Switch.objects.filter(tx_id=sleeping).exists()


def test_the_same_value_again_is_unchanged_and_null_first_changes_nothing(harness, sleeping):
    assert _set(sleeping, None)["action"] == "unchanged"
    assert Transaction.objects.get(pk=sleeping).status == "sleeping"
    assert _set(sleeping, 1)["action"] == "woken"
    assert _set(sleeping, 1)["action"] == "unchanged"
    assert _set(sleeping, 1.0)["action"] == "updated"


@pytest.mark.fast_paths
def test_a_step_reads_the_switch_in_one_statement_and_clears_its_unread_flag(harness, sleeping):
    from engine.services.execution import tx_claim

    _set(sleeping, "yes")
    run = tx_claim(node_group="master")
    with CaptureQueriesContext(connection) as queries:
        assert switches.switch_read(tx_id=run.tx_id, name="go", lease=run.lease) == "yes"
        assert switches.switch_read(tx_id=run.tx_id, name="never", lease=run.lease) is None
    if connection.vendor == "postgresql":
        assert len([q for q in queries.captured_queries if not q["sql"].startswith(_FRAMING)]) == 2
    assert Switch.objects.get(tx_id=run.tx_id, name="go").unread is False


def test_a_step_without_the_lease_cannot_read_a_switch(harness, sleeping):
    from dataclasses import replace

    from engine.errors import LeaseLost
    from engine.services.execution import tx_claim

    _set(sleeping, "yes")
    run = tx_claim(node_group="master")
    with pytest.raises(LeaseLost):
        switches.switch_read(tx_id=run.tx_id, name="go", lease=replace(run, token="stolen").lease)
    assert Switch.objects.get(tx_id=run.tx_id, name="go").unread is True
