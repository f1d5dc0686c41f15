"""engine.client, the Python API for applications: each function, its typed errors, its journal actor,
owner isolation, and the transaction_finished signal (once per finished transaction, after commit)."""
import pytest
from django.db import transaction

from engine import client
from engine.errors import DatpError, InvalidRequest
from engine.services.owners import owner_ensure
from engine.signals import transaction_finished

pytestmark = pytest.mark.django_db

SWITCH = {"name": "approval", "steps": [
    {"name": "wait", "type": "util/wait-switch", "config": {"switch": "approved"}},
    {"name": "done", "type": "util/set", "config": {"values": {"approved": True}}},
]}
GLOBAL = {"name": "backend", "steps": [
    {"name": "wait", "type": "util/wait-switch", "config": {"switch": "backend-up", "scope": "global"}},
]}
NAP = {"name": "nap", "steps": [{"name": "nap", "type": "util/sleep", "config": {"duration": "P1D"}}]}
FAIL = {"name": "fails", "steps": [{"name": "no", "type": "util/fail", "config": {"note": "nope"}}]}
AWAIT = {"name": "awaits", "steps": [
    {"name": "cb", "type": "util/callback"},
    {"name": "await", "type": "util/await"},
]}


@pytest.fixture
def h(harness):
    harness.load(SWITCH, GLOBAL, NAP, FAIL, AWAIT)
    owner_ensure(name="other")
    return harness


def code_of(call, **kwargs):
    with pytest.raises(DatpError) as caught:
        call(**kwargs)
    return caught.value.code


def actors(h, tx_id, kind):
    return [entry.actor for entry in h.result(tx_id).journal if entry.kind == kind]


def test_start_returns_the_queued_transaction_journaled_as_the_app(h):
    tx = client.start(owner="test", transaction_type="approval", data={"order": 1}, metadata={"m": 1}, app="shop")
    assert (tx["status"], tx["transaction_type"], tx["owner"], tx["input"], tx["metadata"]) == \
        ("queued", "approval", "test", {"order": 1}, {"m": 1})
    assert actors(h, tx["tx_id"], "created") == ["app:shop"]


def test_start_without_an_app_name_is_journaled_as_app_python(h):
    tx = client.start(owner="test", transaction_type="approval")
    assert actors(h, tx["tx_id"], "created") == ["app:python"]


def test_start_with_the_same_external_id_replays_and_with_other_data_is_a_conflict(h):
    first = client.start(owner="test", transaction_type="approval", data={"a": 1}, external_id="order-1")
    again = client.start(owner="test", transaction_type="approval", data={"a": 1}, external_id="order-1")
    assert again["tx_id"] == first["tx_id"]
    assert code_of(client.start, owner="test", transaction_type="approval", data={"a": 2},
                   external_id="order-1") == "duplicate_external_id"


def test_start_refuses_unknown_types_and_bad_fields_with_the_service_codes(h):
    assert code_of(client.start, owner="test", transaction_type="nope") == "unknown_transaction_type"
    assert code_of(client.start, owner="test", transaction_type="approval", data=[1]) == "invalid_request"
    assert code_of(client.start, owner="test", transaction_type="approval", deadline="soon") == "invalid_request"


def test_start_with_a_deadline_sets_it(h):
    tx = client.start(owner="test", transaction_type="approval", deadline="PT1H")
    assert tx["deadline_at"] is not None
    assert h.run(tx["tx_id"]).status == "timeout"


def test_get_returns_the_transaction_and_hides_another_owners(h):
    tx_id = client.start(owner="test", transaction_type="approval")["tx_id"]
    h.run(tx_id)
    got = client.get(owner="test", tx_id=tx_id)
    assert (got["tx_id"], got["status"], got["waiting"]["switch"]) == (tx_id, "sleeping", "approved")
    assert code_of(client.get, owner="other", tx_id=tx_id) == "not_found"
    assert code_of(client.get, owner="test", tx_id="tx-missing") == "not_found"


def test_wait_returns_a_finished_transaction_at_once(h):
    tx_id = client.start(owner="test", transaction_type="fails")["tx_id"]
    h.run(tx_id)
    assert client.wait(owner="test", tx_id=tx_id, timeout="PT0S")["status"] == "failed"


class FakeTime:
    """Stands in for the time module in engine.client: sleeping moves a counter, never the wall clock."""

    def __init__(self, on_sleep=None):
        self.now, self.sleeps, self.on_sleep = 0.0, 0, on_sleep

    def monotonic(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds
        self.sleeps += 1
        if self.on_sleep is not None:
            self.on_sleep()


@pytest.mark.parametrize("timeout", ["P1000000Y", "-PT1S", "soon", None])
def test_wait_with_a_timeout_no_datetime_holds_is_invalid_request_on_timeout(h, timeout):
    tx_id = client.start(owner="test", transaction_type="fails")["tx_id"]
    with pytest.raises(InvalidRequest) as caught:
        client.wait(owner="test", tx_id=tx_id, timeout=timeout)
    assert list(caught.value.extra["fields"]) == ["timeout"]


def test_wait_polls_until_the_transaction_finishes(h, monkeypatch):
    tx_id = client.start(owner="test", transaction_type="approval")["tx_id"]
    h.run(tx_id)

    def approve_then_run():
        if h.result(tx_id).status == "sleeping":
            h.set_switch(tx_id, "approved", True)
            h.run(tx_id)

    fake = FakeTime(approve_then_run)
    monkeypatch.setattr("engine.client.time", fake)
    assert client.wait(owner="test", tx_id=tx_id, timeout="PT30S")["status"] == "success"
    assert fake.sleeps == 1


def test_wait_returns_the_unfinished_transaction_at_the_timeout_and_keeps_the_connection(h, monkeypatch):
    # The test runs inside an atomic block, as a view under ATOMIC_REQUESTS would.
    tx_id = client.start(owner="test", transaction_type="approval")["tx_id"]
    h.run(tx_id)
    fake = FakeTime()
    monkeypatch.setattr("engine.client.time", fake)
    assert client.wait(owner="test", tx_id=tx_id, timeout="PT2S", poll_seconds=0.5)["status"] == "sleeping"
    assert fake.now == pytest.approx(2.0)
    assert client.get(owner="test", tx_id=tx_id)["status"] == "sleeping"
    assert code_of(client.wait, owner="other", tx_id=tx_id) == "not_found"


def test_set_switch_wakes_the_waiting_step_and_journals_the_app(h):
    tx_id = client.start(owner="test", transaction_type="approval")["tx_id"]
    h.run(tx_id)
    reply = client.set_switch(owner="test", tx_id=tx_id, name="approved", value=True, reason="ok", app="crm")
    assert (reply["action"], reply["switch"]["value"]) == ("woken", True)
    [entry] = [e for e in h.result(tx_id).journal if e.kind == "switch"]
    assert (entry.actor, entry.data["channel"], entry.data["reason"]) == ("app:crm", "python", "ok")
    assert h.run(tx_id).status == "success"
    assert code_of(client.set_switch, owner="test", tx_id=tx_id, name="approved", value=False) == \
        "transaction_finished"


def test_set_switch_refuses_another_owner_and_bad_names_or_values(h):
    tx_id = client.start(owner="test", transaction_type="approval")["tx_id"]
    assert code_of(client.set_switch, owner="other", tx_id=tx_id, name="approved", value=True) == "not_found"
    assert code_of(client.set_switch, owner="test", tx_id=tx_id, name="-bad", value=True) == "invalid_request"
    assert code_of(client.set_switch, owner="test", tx_id=tx_id, name="ok", value={"a": 1}) == "invalid_request"


def test_set_global_switch_wakes_every_waiting_transaction_of_the_owner(h):
    tx_ids = [client.start(owner="test", transaction_type="backend")["tx_id"] for _ in range(3)]
    for tx_id in tx_ids:
        h.run(tx_id)
    assert client.set_global_switch(owner="other", name="backend-up", value=True)["woken"] == 0
    reply = client.set_global_switch(owner="test", name="backend-up", value=True, app="ops")
    assert (reply["woken"], reply["switch"]["set_by"]) == (3, "app:ops")
    h.settle()
    assert [h.result(tx_id).status for tx_id in tx_ids] == ["success"] * 3
    assert all(actors(h, tx_id, "woken") == ["app:ops"] for tx_id in tx_ids)


def test_wake_queues_a_sleeping_transaction_and_refuses_one_that_is_not(h):
    tx_id = client.start(owner="test", transaction_type="nap")["tx_id"]
    h.settle()
    assert code_of(client.wake, owner="other", tx_id=tx_id) == "not_found"
    assert client.wake(owner="test", tx_id=tx_id, reason="now", app="ops")["status"] == "queued"
    assert actors(h, tx_id, "woken") == ["app:ops"]
    assert code_of(client.wake, owner="test", tx_id=tx_id) == "not_sleeping"


def test_cancel_ends_a_sleeping_transaction_and_refuses_a_finished_one(h):
    tx_id = client.start(owner="test", transaction_type="nap")["tx_id"]
    h.settle()
    assert code_of(client.cancel, owner="other", tx_id=tx_id) == "not_found"
    assert client.cancel(owner="test", tx_id=tx_id, reason="changed mind", app="shop")["status"] == "cancelled"
    assert actors(h, tx_id, "status")[-1] == "app:shop"
    assert code_of(client.cancel, owner="test", tx_id=tx_id) == "transaction_finished"


def test_retry_requeues_a_failed_transaction_and_refuses_a_successful_one(h):
    tx_id = client.start(owner="test", transaction_type="fails")["tx_id"]
    h.run(tx_id)
    assert code_of(client.retry, owner="other", tx_id=tx_id) == "not_found"
    assert client.retry(owner="test", tx_id=tx_id, app="ops")["status"] == "queued"
    assert actors(h, tx_id, "retry") == ["app:ops"]
    done = client.start(owner="test", transaction_type="approval")["tx_id"]
    h.set_switch(done, "approved", True)
    h.run(done)
    assert code_of(client.retry, owner="test", tx_id=done) == "not_retryable"


def test_update_callback_completes_the_awaited_callback(h):
    tx_id = client.start(owner="test", transaction_type="awaits")["tx_id"]
    h.settle()
    token = h.callback_token(tx_id)
    progress = client.update_callback(token=token, status="progress", data={"pct": 50}, app="worker")
    assert (progress["action"], progress["callback"]["status"]) == ("updated", "progress")
    assert client.update_callback(token=token, status="complete", data={"done": True})["action"] == "woken"
    result = h.run(tx_id)
    assert (result.status, result.data["pct"], result.data["done"]) == ("success", 50, True)
    assert actors(h, tx_id, "callback")[1:] == ["app:worker", "app:python"]
    assert code_of(client.update_callback, token=token, status="error") == "callback_final"
    assert code_of(client.update_callback, token="no-such-token", status="complete") == "not_found"
    assert code_of(client.update_callback, token=token, status="timeout") == "invalid_request"


# The transaction_finished signal -------------------------------------------------------------


@pytest.fixture
def finished():
    received = []

    def handler(sender, **kwargs):
        received.append((kwargs["tx_id"], kwargs["owner"], kwargs["status"]))

    transaction_finished.connect(handler)
    yield received
    transaction_finished.disconnect(handler)


def test_the_signal_is_sent_only_when_the_finishing_commit_happens(h, finished, django_capture_on_commit_callbacks):
    tx_id = client.start(owner="test", transaction_type="fails")["tx_id"]
    with django_capture_on_commit_callbacks(execute=True):
        assert h.run(tx_id).status == "failed"
        assert finished == []
    assert finished == [(tx_id, "test", "failed")]


@pytest.mark.django_db(transaction=True)
def test_the_signal_is_sent_once_per_finished_transaction_with_its_status(h, finished):
    ok = client.start(owner="test", transaction_type="approval")["tx_id"]
    failed = client.start(owner="test", transaction_type="fails")["tx_id"]
    cancelled = client.start(owner="test", transaction_type="nap")["tx_id"]
    h.settle()
    assert finished == [(failed, "test", "failed")]
    client.set_switch(owner="test", tx_id=ok, name="approved", value=True)
    client.cancel(owner="test", tx_id=cancelled)
    h.settle()
    assert sorted(finished) == sorted([(ok, "test", "success"), (failed, "test", "failed"),
                                       (cancelled, "test", "cancelled")])


@pytest.mark.django_db(transaction=True)
def test_no_signal_is_sent_when_the_finishing_transaction_rolls_back(h, finished):
    tx_id = client.start(owner="test", transaction_type="nap")["tx_id"]
    h.settle()
    with pytest.raises(RuntimeError), transaction.atomic():
        client.cancel(owner="test", tx_id=tx_id)
        raise RuntimeError("rolled back")
    assert finished == []
    assert client.get(owner="test", tx_id=tx_id)["status"] == "sleeping"


def test_rewind_runs_a_failed_transaction_again_as_the_app_and_hides_another_owners(h):
    tx = client.start(owner="test", transaction_type="fails", app="shop")
    h.run(tx["tx_id"])
    fixed = {**FAIL, "steps": [{"name": "no", "type": "util/set", "config": {"values": {"fixed": True}}}]}
    h.load(fixed)
    assert code_of(client.rewind, owner="other", tx_id=tx["tx_id"], to_step="no") == "not_found"
    rewound = client.rewind(owner="test", tx_id=tx["tx_id"], to_step="no", version="current", reason="fixed",
                            app="shop")
    assert rewound["status"] == "queued"
    assert h.run(tx["tx_id"]).data == {"fixed": True}
    entry = h.result(tx["tx_id"]).journal
    assert [(e.kind, e.actor) for e in entry if e.kind == "rewind"] == [("rewind", "app:shop")]
    assert code_of(client.rewind, owner="test", tx_id=tx["tx_id"], to_step="nope") == "step_not_in_version"


def test_a_version_move_is_previewed_then_done_by_the_client(h):
    [old] = h.load(SWITCH)
    tx = client.start(owner="test", transaction_type="approval")
    h.run(tx["tx_id"])
    [new] = h.load({**SWITCH, "steps": [SWITCH["steps"][0], {
        "name": "done", "type": "util/set", "config": {"values": {"approved": "v2"}}}]})
    preview = client.preview_version_move(transaction_type="approval", from_version=old.pk, to_version=new.pk)
    assert (preview["count"], preview["moves"], preview["steps"][0]["changes"]) == (1, 1, [])
    job = client.move_version(transaction_type="approval", from_version=old.pk, to_version=new.pk, app="ops")
    assert (job["status"], job["total"], job["done"], job["skipped"]) == ("done", 1, 1, 0)
    h.set_switch(tx["tx_id"], "approved", True)
    assert h.run(tx["tx_id"]).data == {"approved": "v2"}
