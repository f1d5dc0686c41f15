"""Operator actions through the API: cancel, wake, retry, and a transaction's switches; each is
journaled with the key's actor and refused with the action's own code when it does not apply."""
import pytest

from tests.api.conftest import start


def url(tx_id, tail=""):
    return f"/api/v1/transactions/{tx_id}{tail}"


def post(client, tx_id, action, body=None):
    return client.post(url(tx_id, f"/{action}"), body, format="json")


def assert_conflict(response, code):
    assert response.status_code == 409
    assert response.json()["code"] == code


def last_entry(harness, tx_id, kind):
    return [entry for entry in harness.result(tx_id).journal if entry.kind == kind][-1]


def test_cancel_ends_a_sleeping_transaction_and_returns_it(api, harness):
    tx_id = start(api, "approval")
    harness.run(tx_id)
    response = post(api, tx_id, "cancel", {"reason": "customer changed their mind"})
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled" and response.json()["completed_at"] is not None
    entry = last_entry(harness, tx_id, "status")
    assert entry.actor == "api-key:myapp" and entry.data["to"] == "cancelled"


def test_cancel_without_a_body_is_fine(api):
    tx_id = start(api)
    assert api.post(url(tx_id, "/cancel")).json()["status"] == "cancelled"


def test_cancel_of_a_finished_transaction_is_transaction_finished(api, harness):
    tx_id = start(api)
    harness.run(tx_id)
    assert_conflict(post(api, tx_id, "cancel"), "transaction_finished")


def test_wake_queues_a_sleeping_transaction(api, harness):
    tx_id = start(api, "nap")
    harness.run(tx_id, limit="PT1S")
    assert harness.result(tx_id).status == "sleeping"
    response = post(api, tx_id, "wake", {"reason": "now please"})
    assert response.status_code == 200 and response.json()["status"] == "queued"
    woken = last_entry(harness, tx_id, "woken")
    assert woken.actor == "api-key:myapp" and woken.data["why"] == "wake now: now please"


@pytest.mark.parametrize("pipeline", ["echo", "failing"])
def test_wake_of_a_transaction_that_is_not_sleeping_is_not_sleeping(api, harness, pipeline):
    tx_id = start(api, pipeline)
    assert_conflict(post(api, tx_id, "wake"), "not_sleeping")
    harness.run(tx_id)
    assert_conflict(post(api, tx_id, "wake"), "not_sleeping")


def test_retry_requeues_a_failed_transaction(api, harness):
    tx_id = start(api, "failing")
    assert harness.run(tx_id).status == "failed"
    response = post(api, tx_id, "retry", {"reason": "fixed the card processor", "deadline": "PT1H"})
    assert response.status_code == 200
    assert response.json()["status"] == "queued" and response.json()["deadline_at"] is not None
    retry = last_entry(harness, tx_id, "retry")
    assert retry.actor == "api-key:myapp"
    assert harness.run(tx_id).status == "failed"


@pytest.mark.parametrize("pipeline, run", [("echo", True), ("approval", True), ("echo", False)])
def test_retry_of_a_transaction_that_did_not_fail_is_not_retryable(api, harness, pipeline, run):
    tx_id = start(api, pipeline)
    if run:
        harness.run(tx_id)
    assert_conflict(post(api, tx_id, "retry"), "not_retryable")


def test_retry_with_a_bad_deadline_is_invalid_request(api, harness):
    tx_id = start(api, "failing")
    harness.run(tx_id)
    response = post(api, tx_id, "retry", {"deadline": "whenever"})
    assert response.status_code == 400 and "deadline" in response.json()["extra"]["fields"]


@pytest.mark.parametrize("action", ["cancel", "wake", "retry"])
def test_a_reason_must_be_a_string(api, action):
    tx_id = start(api)
    response = post(api, tx_id, action, {"reason": ["no"]})
    assert response.status_code == 400 and "reason" in response.json()["extra"]["fields"]


@pytest.mark.parametrize("action", ["cancel", "wake", "retry"])
def test_actions_on_another_owners_transaction_are_404_and_change_nothing(api, other_api, harness, action):
    tx_id = start(api, "approval")
    harness.run(tx_id)
    response = post(other_api, tx_id, action)
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert harness.result(tx_id).status == "sleeping"


def test_setting_the_switch_a_step_waits_on_wakes_it(api, harness):
    tx_id = start(api, "approval")
    harness.run(tx_id)
    response = api.put(url(tx_id, "/switches/approved"), {"value": True, "reason": "ops ok"}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["action"] == "woken"
    assert body["switch"]["name"] == "approved" and body["switch"]["value"] is True
    assert body["switch"]["set_by"] == "api-key:myapp" and body["switch"]["set_at"].endswith("Z")
    assert harness.run(tx_id).status == "success"


def test_setting_a_switch_again_to_the_same_value_is_unchanged(api, harness):
    tx_id = start(api, "approval")
    harness.run(tx_id)
    assert api.put(url(tx_id, "/switches/color"), {"value": "red"}, format="json").json()["action"] == "updated"
    assert api.put(url(tx_id, "/switches/color"), {"value": "red"}, format="json").json()["action"] == "unchanged"
    assert api.put(url(tx_id, "/switches/color"), {"value": 1}, format="json").json()["action"] == "updated"


def test_deleting_a_switch_makes_it_null(api, harness):
    tx_id = start(api, "approval")
    api.put(url(tx_id, "/switches/color"), {"value": "red"}, format="json")
    response = api.delete(url(tx_id, "/switches/color"))
    assert response.status_code == 200
    assert response.json()["action"] == "updated" and response.json()["switch"]["value"] is None
    assert harness.result(tx_id).switches == {"color": None}


def test_the_switch_list_shows_every_switch_with_its_unread_flag(api, harness):
    tx_id = start(api, "approval")
    api.put(url(tx_id, "/switches/b"), {"value": False}, format="json")
    api.put(url(tx_id, "/switches/a"), {"value": 2.5}, format="json")
    switches = api.get(url(tx_id, "/switches")).json()["switches"]
    assert [(s["name"], s["value"], s["unread"]) for s in switches] == [("a", 2.5, True), ("b", False, True)]
    assert set(switches[0]) == {"name", "value", "set_at", "set_by", "unread"}


def test_switches_of_a_finished_transaction_do_not_change(api, harness):
    tx_id = start(api)
    harness.run(tx_id)
    assert_conflict(api.put(url(tx_id, "/switches/x"), {"value": 1}, format="json"), "transaction_finished")
    assert_conflict(api.delete(url(tx_id, "/switches/x")), "transaction_finished")


@pytest.mark.parametrize("name, body, field", [
    ("-bad", {"value": True}, "name"),
    ("x" * 65, {"value": True}, "name"),
    ("ok", {"value": {"nested": 1}}, "value"),
    ("ok", {"value": [1]}, "value"),
    ("ok", {"value": "x" * 1025}, "value"),
    ("ok", {}, "value"),
    ("ok", {"value": 1, "reason": 5}, "reason"),
])
def test_a_bad_switch_name_or_value_is_invalid_request(api, name, body, field):
    tx_id = start(api)
    response = api.put(url(tx_id, f"/switches/{name}"), body, format="json")
    assert response.status_code == 400 and response.json()["code"] == "invalid_request"
    assert field in response.json()["extra"]["fields"]


def test_another_owners_switches_are_404(api, other_api, harness):
    tx_id = start(api, "approval")
    harness.run(tx_id)
    assert other_api.get(url(tx_id, "/switches")).status_code == 404
    assert other_api.put(url(tx_id, "/switches/approved"), {"value": True}, format="json").status_code == 404
    assert other_api.delete(url(tx_id, "/switches/approved")).status_code == 404
    assert harness.result(tx_id).switches == {}
