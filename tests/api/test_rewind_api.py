"""POST /api/v1/transactions/{tx_id}/rewind (issue 22): a transaction goes back to an earlier step over REST, on
its own version, the one in use or a named one; every refusal is the typed error body and changes nothing."""
import pytest

from engine.models import JournalEntry, Transaction
from tests.api.conftest import start
from tests.monitoring.conftest import login, make_user

ORDER = {
    "name": "rw-api",
    "steps": [
        {"name": "prepare", "type": "util/set", "config": {"values": {"prepared": True}}},
        {"name": "charge", "type": "util/fail", "config": {"note": "bug in charge"}},
        {"name": "approve", "type": "util/wait-switch", "config": {"switch": "approved"}},
        {"name": "ship", "type": "util/set", "config": {"values": {"shipped": True}}},
    ],
}
FIXED = {**ORDER, "steps": [ORDER["steps"][0], {"name": "charge", "type": "util/set", "config": {"values": {
    "charged": 5}}}, *ORDER["steps"][2:]]}


def rewind_url(tx_id):
    return f"/api/v1/transactions/{tx_id}/rewind"


def rewind(client, tx_id, **body):
    return client.post(rewind_url(tx_id), body, format="json")


def snapshot(tx_id):
    """What a refused rewind must leave as it was: the row's state and the journal's length."""
    row = Transaction.objects.get(pk=tx_id)
    return (row.status, row.step_name, row.version_id, row.visit, row.deadline_at, row.updated_at,
            JournalEntry.objects.filter(tx_id=tx_id).count())


def refused(response, status, code):
    assert response.status_code == status, response.json()
    body = response.json()
    assert body["code"] == code and set(body) == {"code", "message", "extra"}, body
    return body


@pytest.fixture
def order(api, harness):
    """The pipeline whose `charge` fails in its first version; returns that version's id."""
    [version] = harness.load(ORDER)
    return version.pk


def test_a_failed_transaction_runs_again_on_the_version_in_use(api, harness, order):
    tx_id = start(api, "rw-api", data={"order": 7})
    assert harness.run(tx_id).status == "failed"
    [fixed] = harness.load(FIXED)
    response = rewind(api, tx_id, to_step="charge", version="current", reason="bug 4711 fixed")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["tx_id"], body["status"], body["pipeline_version"]) == (tx_id, "queued", fixed.pk)
    assert body["links"]["self"].endswith(f"/api/v1/transactions/{tx_id}")
    assert api.get(f"/api/v1/transactions/{tx_id}").json()["status"] == "queued"
    entry = JournalEntry.objects.get(tx_id=tx_id, kind="rewind")
    assert entry.actor == "api-key:myapp" and entry.data["reason"] == "bug 4711 fixed"
    assert entry.data["version"] == fixed.pk and entry.data["from_version"] == order
    harness.set_switch(tx_id, "approved", True)
    result = harness.run(tx_id)
    assert result.status == "success"
    assert result.data == {"order": 7, "prepared": True, "charged": 5, "shipped": True}


def test_given_data_a_named_version_a_deadline_and_webhook_again(api, harness, order):
    tx_id = start(api, "rw-api", data={"order": 8}, webhook="https://hooks.example.com/datp")
    harness.run(tx_id)
    harness.load(FIXED)
    response = rewind(api, tx_id, to_step="ship", version=order, data={"given": True}, deadline="PT1H",
                      webhook_again=True)
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["pipeline_version"] == order and body["deadline_at"] is not None
    entry = JournalEntry.objects.get(tx_id=tx_id, kind="rewind").data
    assert (entry["data_from"], entry["webhook"]) == ("given", "again")
    result = harness.run(tx_id)
    assert result.status == "success" and result.data == {"given": True, "shipped": True}


def test_a_rewind_needs_a_to_step_and_refuses_bad_or_unknown_fields(api, harness, order):
    tx_id = start(api, "rw-api")
    harness.run(tx_id)
    before = snapshot(tx_id)
    body = refused(api.post(rewind_url(tx_id), format="json"), 400, "invalid_request")
    assert body["extra"]["fields"] == {"to_step": ["This field is required."]}
    body = refused(rewind(api, tx_id, to_step="charge", stepp="prepare", webhook_again="yes", reason=7), 400,
                   "invalid_request")
    assert set(body["extra"]["fields"]) == {"stepp", "webhook_again", "reason"}
    assert body["extra"]["fields"]["stepp"] == ["Unknown field."]
    body = refused(rewind(api, tx_id, to_step="", version=""), 400, "invalid_request")
    assert set(body["extra"]["fields"]) == {"to_step"}
    for field, value in (("data", [1]), ("version", ""), ("deadline", "soon"), ("reason", "x" * 2001)):
        body = refused(rewind(api, tx_id, to_step="charge", **{field: value}), 400, "invalid_request")
        assert set(body["extra"]["fields"]) == {field}, body
    refused(api.post(rewind_url(tx_id), [1], format="json"), 400, "invalid_request")
    assert snapshot(tx_id) == before


def test_an_unknown_transaction_or_version_is_a_404(api, other_api, harness, order):
    refused(rewind(api, "tx-nope", to_step="charge"), 404, "not_found")
    tx_id = start(api, "rw-api")
    harness.run(tx_id)
    before = snapshot(tx_id)
    refused(rewind(other_api, tx_id, to_step="charge"), 404, "not_found")  # another owner's
    body = refused(rewind(api, tx_id, to_step="charge", version="f" * 64), 404, "not_found")
    assert "f" * 64 in body["message"]
    assert snapshot(tx_id) == before


def test_each_conflict_has_its_own_code_and_changes_nothing(api, harness, order):
    tx_id = start(api, "rw-api", deadline="PT1H")
    harness.run(tx_id)
    before = snapshot(tx_id)
    body = refused(rewind(api, tx_id, to_step="nope"), 409, "step_not_in_version")
    assert body["extra"]["step"] == "nope"
    harness.load({**ORDER, "steps": ORDER["steps"][1:]})  # a version in use without prepare
    refused(rewind(api, tx_id, to_step="prepare", version="current"), 409, "step_not_in_version")
    queued = start(api, "rw-api")
    queued_before = snapshot(queued)
    body = refused(rewind(api, queued, to_step="ship"), 409, "step_not_run")
    assert body["extra"] == {"step": "ship"}
    assert snapshot(queued) == queued_before
    assert snapshot(tx_id) == before
    harness.advance("PT2H")
    before = snapshot(tx_id)
    refused(rewind(api, tx_id, to_step="charge"), 409, "deadline_passed")
    assert snapshot(tx_id) == before
    assert not JournalEntry.objects.filter(kind="rewind").exists()
    assert rewind(api, tx_id, to_step="charge", deadline="PT1H").status_code == 200


def test_a_running_transaction_is_refused(api, harness, order):
    tx_id = start(api, "rw-api")
    harness.crash_next_run("prepare")
    harness.settle()  # prepare ran; its worker died: running until its lease expires
    before = snapshot(tx_id)
    assert before[0] == "running"
    refused(rewind(api, tx_id, to_step="prepare"), 409, "transaction_running")
    assert snapshot(tx_id) == before


CHILD = {"name": "rw-api-child", "transaction_type": False, "steps": [
    {"name": "wait", "type": "util/wait-switch", "config": {"switch": "go"}}]}


def test_a_child_whose_parent_finished_or_whose_end_was_reported_is_refused(api, harness):
    harness.load(CHILD, {"name": "rw-api-parent", "steps": [
        {"name": "child", "type": "util/child-pipeline", "config": {"pipeline": "rw-api-child"}}]})
    parent = start(api, "rw-api-parent")
    [child] = harness.run(parent).children
    harness.set_switch(child.tx.pk, "go", True)
    assert harness.run(parent).status == "success"
    before = snapshot(child.tx.pk)
    body = refused(rewind(api, child.tx.pk, to_step="wait"), 409, "parent_finished")
    assert body["extra"] == {"parent": parent}
    assert snapshot(child.tx.pk) == before

    harness.load({"name": "rw-api-parent2", "steps": [
        {"name": "child", "type": "util/child-pipeline", "config": {"pipeline": "rw-api-child"}},
        {"name": "hold", "type": "util/wait-switch", "config": {"switch": "hold"}}]})
    other = start(api, "rw-api-parent2")
    [child] = harness.run(other).children
    harness.set_switch(child.tx.pk, "go", True)
    assert harness.run(other).status == "sleeping"
    before = snapshot(child.tx.pk)
    refused(rewind(api, child.tx.pk, to_step="wait"), 409, "end_reported")
    assert snapshot(child.tx.pk) == before


def test_a_console_viewer_may_not_rewind(harness, order):
    """Rewind is a write: the console's read-only role is refused (403), and nothing changes."""
    tx_id = harness.start("rw-api")
    harness.run(tx_id)
    before = snapshot(tx_id)
    client = login(make_user("vera", "viewer", [harness.owner]))
    refused(client.post(rewind_url(tx_id), {"to_step": "charge"}, content_type="application/json"), 403,
            "permission_denied")
    assert snapshot(tx_id) == before
