"""Console users on the API: their Django session authenticates them, with their role and owners,
Django's CSRF check on writes, and another owner's data a 404 as for API keys."""
import pytest
from django.test import Client

from tests.api.conftest import start
from tests.monitoring.conftest import login, make_user


@pytest.fixture
def tx_id(api):
    return start(api, "approval")


def test_a_console_operator_reads_and_acts_on_their_owners_transactions(harness, api, tx_id):
    client = login(make_user("otto", "operator", [harness.owner]))
    assert client.get(f"/api/v1/transactions/{tx_id}").json()["status"] in {"queued", "running", "sleeping"}
    harness.settle()
    response = client.put(f"/api/v1/transactions/{tx_id}/switches/approved",
                          {"value": True, "reason": "checked"}, content_type="application/json")
    assert response.status_code == 200, response.json()
    journal = client.get(f"/api/v1/transactions/{tx_id}/journal").json()["results"]
    assert any(e["kind"] == "switch" and e["actor"] == "user:otto" for e in journal)


def test_a_console_user_starts_transactions_for_their_owner(harness, api):
    client = login(make_user("otto", "operator", [harness.owner]))
    response = client.post("/api/v1/transactions", {"transaction_type": "echo"}, content_type="application/json")
    assert response.status_code == 201
    assert response.json()["owner"] == harness.owner


def test_a_viewer_may_read_but_not_write(harness, api, tx_id):
    client = login(make_user("vera", "viewer", [harness.owner]))
    assert client.get(f"/api/v1/transactions/{tx_id}").status_code == 200
    response = client.post(f"/api/v1/transactions/{tx_id}/cancel", {"reason": "no"}, content_type="application/json")
    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")
    response = client.post("/api/v1/transactions", {"transaction_type": "echo"}, content_type="application/json")
    assert response.status_code == 403


def test_another_owners_transaction_is_a_404_for_a_console_user(harness, api, tx_id):
    client = login(make_user("olga", "operator", ["other"]))
    response = client.get(f"/api/v1/transactions/{tx_id}")
    assert (response.status_code, response.json()["code"]) == (404, "not_found")
    assert client.get("/api/v1/transactions").json()["results"] == []


def test_a_session_write_without_the_csrf_token_is_refused(harness, api, tx_id):
    user = make_user("otto", "operator", [harness.owner])
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    response = client.post(f"/api/v1/transactions/{tx_id}/cancel", {"reason": "x"}, content_type="application/json")
    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")
    assert client.get(f"/api/v1/transactions/{tx_id}").json()["status"] != "cancelled"


def test_the_owner_header_chooses_among_a_users_owners_and_refuses_others(harness, api, tx_id):
    client = login(make_user("multi", "operator", ["aaa", harness.owner]))
    assert client.get(f"/api/v1/transactions/{tx_id}").status_code == 404  # acts for "aaa" by default
    assert client.get(f"/api/v1/transactions/{tx_id}", HTTP_X_DATP_OWNER=harness.owner).status_code == 200
    response = client.get(f"/api/v1/transactions/{tx_id}", HTTP_X_DATP_OWNER="other")
    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")


def test_only_system_console_users_change_node_groups(harness, api):
    operator = login(make_user("otto", "operator", [harness.owner]))
    system = login(make_user("sys", "system"))
    body = {"paused": True}
    assert operator.patch("/api/v1/node-groups/master", body, content_type="application/json").status_code == 403
    response = system.patch("/api/v1/node-groups/master", body, content_type="application/json",
                            HTTP_X_DATP_OWNER=harness.owner)
    assert response.status_code == 200 and response.json()["paused"] is True


def test_a_system_user_without_owners_must_name_one(harness, api):
    system = login(make_user("sys", "system"))
    response = system.get("/api/v1/transactions")
    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")
    assert system.get("/api/v1/transactions", HTTP_X_DATP_OWNER=harness.owner).status_code == 200


def test_a_user_without_a_console_role_is_refused(harness, api):
    client = login(make_user("nobody", None, [harness.owner]))
    assert client.get("/api/v1/transactions").status_code == 403
