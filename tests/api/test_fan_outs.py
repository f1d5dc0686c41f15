"""Fan-outs over REST: a parent's `waiting.children` progress, GET .../fan-outs, and the list of the children of
a parent (`parent_tx_id`) and of one fan-out (`fan_out`), with typed errors for bad filter values."""
import pytest
from rest_framework.test import APIClient

from tests.api.conftest import start
from tests.fan_outs import children_of, fail, release, start_fan


@pytest.fixture
def parent(api, harness):
    return start_fan(harness)


def status(api, tx_id):
    response = api.get(f"/api/v1/transactions/{tx_id}")
    assert response.status_code == 200
    return response.json()


def listed(api, **params):
    response = api.get("/api/v1/transactions", params)
    assert response.status_code == 200, response.json()
    return {row["tx_id"] for row in response.json()["results"]}


def test_a_parent_waiting_on_a_fan_out_shows_its_progress_in_waiting(api, harness, parent):
    waiting = status(api, parent)["waiting"]
    children = waiting["children"]
    assert waiting["reason"] == "children" and waiting["step"] == "each"
    assert {name: children[name] for name in ("pipeline", "join", "total", "started", "running", "succeeded",
                                              "failed", "not_started", "tolerated", "tolerated_given", "outcome",
                                              "max_parallel", "on_failure")} == {
        "pipeline": "gated-item", "join": "all", "total": 5, "started": 2, "running": 2, "succeeded": 0,
        "failed": 0, "not_started": 3, "tolerated": 2, "tolerated_given": "50%", "outcome": None,
        "max_parallel": 2, "on_failure": "fail_fast"}
    assert children["summary"] == "waiting for 5 of 5 children (0 failed, 50 % tolerated)"
    first, second = children_of(parent)
    release(harness, first)
    fail(harness, second)
    children = status(api, parent)["waiting"]["children"]
    assert (children["started"], children["running"], children["succeeded"], children["failed"],
            children["not_started"]) == (4, 2, 1, 1, 1)
    assert children["summary"] == "waiting for 3 of 5 children (1 failed, 50 % tolerated)"


def test_waiting_children_is_null_for_any_other_wait_and_the_shape_only_grew(api, harness):
    tx_id = start(api, "approval")
    harness.settle()
    waiting = status(api, tx_id)["waiting"]
    assert waiting["reason"] == "switch" and waiting["children"] is None
    assert set(waiting) == {"reason", "switch", "scope", "callback", "child_tx_id", "wake_at", "timeout_at",
                            "since", "step", "callback_url", "callbacks", "url", "children"}


def test_the_link_of_a_fan_out_lists_exactly_its_children(api, harness, parent):
    link = status(api, parent)["waiting"]["children"]["links"]["children"]
    response = api.get(link)
    assert response.status_code == 200
    assert {row["tx_id"] for row in response.json()["results"]} == set(children_of(parent))
    assert {row["parent_tx_id"] for row in response.json()["results"]} == {parent}


def test_the_list_filters_the_children_by_parent_fan_out_and_status(api, harness):
    parent = start_fan(harness, items=2, transaction_type="two-fans", quick=[1, 2, 3])
    quick_fan, gated_fan = (row["fan_out"] for row in api.get(
        f"/api/v1/transactions/{parent}/fan-outs").json()["results"])
    quick = set(children_of(parent, fan_out_item__fan_out_id=quick_fan))
    gated = set(children_of(parent, fan_out_item__fan_out_id=gated_fan))
    assert len(quick) == 3 and len(gated) == 2
    start(api, "echo")  # not a child: never listed
    assert listed(api, parent_tx_id=parent) == quick | gated
    assert listed(api, parent_tx_id=parent, fan_out=quick_fan) == quick
    assert listed(api, fan_out=gated_fan) == gated
    assert listed(api, parent_tx_id=parent, status="sleeping") == gated
    assert listed(api, parent_tx_id=parent, fan_out=gated_fan, status="success") == set()
    assert listed(api, parent_tx_id=parent, fan_out=gated_fan + 100) == set()


def test_the_children_list_pages_through_every_child(api, harness):
    parent = start_fan(harness, items=2, transaction_type="two-fans", quick=list(range(7)))
    seen, url = [], f"/api/v1/transactions?parent_tx_id={parent}&limit=3"
    while url:
        body = api.get(url).json()
        seen.extend(row["tx_id"] for row in body["results"])
        url = body["next"]
    assert sorted(seen) == sorted(children_of(parent)) and len(seen) == 9


@pytest.mark.parametrize("value", ["abc", "-1", "1.5", "1e3", "²", " 1", "9" * 19])
def test_a_bad_fan_out_filter_is_a_typed_error(api, value):
    response = api.get("/api/v1/transactions", {"fan_out": value})
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_request" and list(body["extra"]["fields"]) == ["fan_out"]


def test_a_too_long_parent_filter_is_a_typed_error(api):
    response = api.get("/api/v1/transactions", {"parent_tx_id": "x" * 201})
    assert response.status_code == 400 and list(response.json()["extra"]["fields"]) == ["parent_tx_id"]


def test_the_fan_outs_of_a_transaction_are_listed_oldest_first_and_paged(api, harness):
    parent = start_fan(harness, items=2, transaction_type="two-fans", quick=[1, 2, 3])
    first = api.get(f"/api/v1/transactions/{parent}/fan-outs", {"limit": 1}).json()
    assert [row["step"] for row in first["results"]] == ["quick"]
    row = first["results"][0]
    assert (row["total"], row["succeeded"], row["outcome"], row["decided_at"] is not None) == (3, 3, "success", True)
    assert row["summary"] == "3 children: 3 succeeded, 0 failed, 0 not started; join all: success"
    second = api.get(first["next"]).json()
    assert [row["step"] for row in second["results"]] == ["gated"] and second["next"] is None
    assert second["results"][0]["outcome"] is None and second["results"][0]["running"] == 2


def test_a_transaction_without_fan_outs_lists_none(api):
    tx_id = start(api, "echo")
    assert api.get(f"/api/v1/transactions/{tx_id}/fan-outs").json() == {"results": [], "next": None}


def test_another_owners_parent_and_its_children_stay_hidden(api, other_api, harness, parent):
    assert other_api.get(f"/api/v1/transactions/{parent}/fan-outs").json()["code"] == "not_found"
    assert other_api.get("/api/v1/transactions", {"parent_tx_id": parent}).json()["results"] == []
    assert APIClient().get(f"/api/v1/transactions/{parent}/fan-outs").status_code == 401


def test_a_bad_cursor_of_the_fan_outs_is_a_typed_error(api, parent):
    response = api.get(f"/api/v1/transactions/{parent}/fan-outs", {"cursor": "nonsense"})
    assert response.status_code == 400 and response.json()["code"] == "invalid_request"


def test_a_list_of_parents_reads_their_fan_outs_in_the_same_queries(api, harness, django_assert_max_num_queries):
    start_fan(harness)
    with django_assert_max_num_queries(20) as one:
        api.get("/api/v1/transactions", {"transaction_type": "fan"})
    for _ in range(3):
        start_fan(harness)
    with django_assert_max_num_queries(len(one.captured_queries)):
        body = api.get("/api/v1/transactions", {"transaction_type": "fan"}).json()
    assert [row["waiting"]["children"]["total"] for row in body["results"]] == [5, 5, 5, 5]


def test_the_openapi_document_describes_the_progress_and_the_filters(db):
    document = APIClient().get("/api/schema/?format=json").json()
    waiting = document["components"]["schemas"]["Transaction"]["properties"]["waiting"]["properties"]
    children = waiting["children"]
    assert children["nullable"] is True
    assert {"fan_out", "total", "started", "running", "succeeded", "failed", "not_started", "tolerated",
            "tolerated_given", "outcome"} <= set(children["properties"])
    parameters = {p["name"]: p for p in document["paths"]["/api/v1/transactions"]["get"]["parameters"]}
    assert parameters["fan_out"]["schema"]["type"] == "integer" and "parent_tx_id" in parameters
    assert "/api/v1/transactions/{tx_id}/fan-outs" in document["paths"]


def test_the_metrics_count_the_parents_waiting_for_children(client, harness, parent):
    text = client.get("/metrics").content.decode()
    assert 'datp_sleepers{reason="children"} 1.0' in text and 'datp_sleepers{reason="switch"} 2.0' in text
