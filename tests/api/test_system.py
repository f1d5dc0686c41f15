"""Health, step types, and the paged step-run and journal lists of a transaction."""
from datetime import timedelta

import pytest
from django.db import OperationalError

from engine.models import Node
from tests.api.conftest import start


def add_node(node_id, last_seen_at):
    Node.objects.create(node_id=node_id, group_id="master", host="h", pid=1, workers=2,
                        started_at=last_seen_at, last_seen_at=last_seen_at)


def test_health_counts_the_nodes_seen_in_the_last_minute(anon, api, harness):
    now = harness.now()
    add_node("fresh", now - timedelta(seconds=10))
    add_node("edge", now - timedelta(seconds=59))
    add_node("gone", now - timedelta(seconds=61))
    response = anon.get("/api/v1/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "nodes": 2}


def test_health_is_503_degraded_when_the_database_fails(anon, monkeypatch):
    def broken(**kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr("engine.api.views.system.node_count_seen_since", broken)
    response = anon.get("/api/v1/health")
    assert response.status_code == 503
    assert response.json()["status"] == "degraded" and response.json()["database"] != "ok"


def test_step_types_lists_the_built_ins_with_their_schema(api):
    results = api.get("/api/v1/step-types").json()["results"]
    by_type = {item["type"]: item for item in results}
    assert {"util/echo", "util/wait-switch", "util/callback", "util/await"} <= set(by_type)
    assert by_type["util/wait-switch"]["config_schema"]["required"] == ["switch"]
    assert by_type["util/echo"]["description"]
    assert [item["type"] for item in results] == sorted(by_type)


def test_steps_lists_the_step_runs_oldest_first(api, harness):
    tx_id = start(api, "approval", data={"n": 1})
    harness.run(tx_id)
    api.put(f"/api/v1/transactions/{tx_id}/switches/approved", {"value": True}, format="json")
    harness.run(tx_id)
    body = api.get(f"/api/v1/transactions/{tx_id}/steps").json()
    assert body["next"] is None
    runs = body["results"]
    assert [(r["seq"], r["step"], r["status"]) for r in runs] == [
        (1, "approval", "sleeping"), (2, "approval", "success"), (3, "done", "success")]
    assert runs[2]["type"] == "util/echo" and runs[2]["output"] == {"n": 1}
    assert set(runs[0]) == {"seq", "step", "type", "status", "outcome", "attempt", "retry_count", "note", "input",
                            "output", "error", "started_at", "ended_at", "duration_ms", "node", "logs"}


def test_the_journal_lists_what_happened_with_actors(api, harness):
    tx_id = start(api)
    harness.run(tx_id)
    entries = api.get(f"/api/v1/transactions/{tx_id}/journal").json()["results"]
    assert entries[0]["kind"] == "created" and entries[0]["actor"] == "api-key:myapp"
    assert entries[-1]["data"]["to"] == "success"
    assert [e["seq"] for e in entries] == sorted(e["seq"] for e in entries)
    assert set(entries[0]) == {"seq", "at", "kind", "actor", "step", "data"}


@pytest.mark.parametrize("tail", ["steps", "journal"])
def test_lists_page_with_limit_and_cursor_until_next_is_null(api, harness, tail):
    tx_id = start(api, "approval")
    harness.run(tx_id)
    for value in (0, "", False, True):
        api.put(f"/api/v1/transactions/{tx_id}/switches/approved", {"value": value}, format="json")
        harness.run(tx_id)
    everything = api.get(f"/api/v1/transactions/{tx_id}/{tail}", {"limit": 500}).json()["results"]
    assert len(everything) >= 5
    seen, url, params = [], f"/api/v1/transactions/{tx_id}/{tail}", {"limit": 2}
    while url:
        body = api.get(url, params).json()
        assert len(body["results"]) <= 2
        seen += body["results"]
        url, params = body["next"], None
    assert seen == everything


@pytest.mark.parametrize("params, field", [({"limit": "0"}, "limit"), ({"limit": "many"}, "limit"),
                                           ({"cursor": "garbage!"}, "cursor"), ({"cursor": "WyJ4Il0"}, "cursor")])
def test_a_bad_limit_or_cursor_is_invalid_request(api, params, field):
    tx_id = start(api)
    response = api.get(f"/api/v1/transactions/{tx_id}/journal", params)
    assert response.status_code == 400 and field in response.json()["extra"]["fields"]


@pytest.mark.parametrize("tail", ["steps", "journal"])
def test_another_owners_steps_and_journal_are_404(api, other_api, harness, tail):
    tx_id = start(api)
    harness.run(tx_id)
    response = other_api.get(f"/api/v1/transactions/{tx_id}/{tail}")
    assert response.status_code == 404 and response.json()["code"] == "not_found"
