"""The node-group endpoints: every group with its nodes and the caller's own counts; only system
credentials pause, resume or throttle a group."""
import pytest

from engine import clock
from engine.models import Node, NodeGroup
from tests.api.conftest import client_for, start

GROUPS = "/api/v1/node-groups"


@pytest.fixture
def system_api(api, harness):
    return client_for(harness.owner, "ops", system=True)


def group(body, name):
    return next(g for g in body["results"] if g["name"] == name)


def test_the_list_shows_each_group_with_its_nodes_and_the_callers_counts(api, other_api, harness):
    Node.objects.create(node_id="web-1:42", group_id="master", host="web-1", pid=42, workers=4,
                        started_at=clock.now(), last_seen_at=clock.now())
    start(api, "nap")
    start(api, "approval")
    harness.settle()
    start(api, "echo")
    start(other_api, "echo")
    start(other_api, "echo")
    master = group(api.get(GROUPS).json(), "master")
    assert (master["queued"], master["running"], master["sleeping"]) == (1, 0, 2)
    assert (master["paused"], master["max_concurrency"], master["description"]) == (False, None, "")
    (node,) = master["nodes"]
    assert {k: node[k] for k in ("node_id", "host", "pid", "workers")} == {
        "node_id": "web-1:42", "host": "web-1", "pid": 42, "workers": 4}
    assert node["started_at"].endswith("Z") and node["last_seen_at"].endswith("Z")
    theirs = group(other_api.get(GROUPS).json(), "master")
    assert (theirs["queued"], theirs["running"], theirs["sleeping"]) == (2, 0, 0)


def test_a_group_without_transactions_or_nodes_reports_zeros(api):
    NodeGroup.objects.create(name="gpu", description="Big machines", created_at=clock.now())
    assert group(api.get(GROUPS).json(), "gpu") == {
        "name": "gpu", "description": "Big machines", "paused": False, "max_concurrency": None,
        "queued": 0, "running": 0, "sleeping": 0, "nodes": []}


def test_pausing_keeps_transactions_queued_until_resumed(system_api, api, harness):
    response = system_api.patch(f"{GROUPS}/master", {"paused": True}, format="json")
    assert response.status_code == 200 and response.json()["paused"] is True
    tx_id = start(api)
    harness.settle()
    assert harness.result(tx_id).status == "queued"
    assert api.get(f"{GROUPS}/master").json()["queued"] == 1
    system_api.patch(f"{GROUPS}/master", {"paused": False}, format="json")
    assert harness.run(tx_id).status == "success"


def test_max_concurrency_is_set_and_cleared(system_api):
    body = system_api.patch(f"{GROUPS}/master", {"max_concurrency": 3}, format="json").json()
    assert (body["max_concurrency"], body["paused"]) == (3, False)
    assert NodeGroup.objects.get(pk="master").max_concurrency == 3
    body = system_api.patch(f"{GROUPS}/master", {"max_concurrency": None, "paused": True}, format="json").json()
    assert (body["max_concurrency"], body["paused"]) == (None, True)


def test_a_normal_key_may_not_change_a_group(api):
    response = api.patch(f"{GROUPS}/master", {"paused": True}, format="json")
    assert response.status_code == 403 and response.json()["code"] == "permission_denied"
    assert NodeGroup.objects.get(pk="master").paused is False


@pytest.mark.parametrize("body, bad", [
    ({"paused": "yes"}, "paused"),
    ({"max_concurrency": 0}, "max_concurrency"),
    ({"max_concurrency": -2}, "max_concurrency"),
    ({"max_concurrency": 1.5}, "max_concurrency"),
    ({"max_concurrency": True}, "max_concurrency"),
    ({"max_concurrency": 2**40}, "max_concurrency"),
    ({"workers": 3}, "workers"),
    ({}, "non_field_errors"),
])
def test_a_bad_change_is_invalid_request_and_changes_nothing(system_api, body, bad):
    response = system_api.patch(f"{GROUPS}/master", body, format="json")
    assert response.status_code == 400 and response.json()["code"] == "invalid_request"
    assert bad in response.json()["extra"]["fields"]
    found = NodeGroup.objects.get(pk="master")
    assert (found.paused, found.max_concurrency) == (False, None)


def test_an_unknown_group_is_not_found(system_api, api):
    for client, call in ((system_api, "patch"), (api, "get")):
        response = getattr(client, call)(f"{GROUPS}/nope", {"paused": True}, format="json")
        assert response.status_code == 404 and response.json()["code"] == "not_found"


def test_node_groups_need_credentials(anon):
    assert anon.get(GROUPS).status_code == 401
