"""POST /api/v1/transactions and GET /api/v1/transactions/{tx_id}: start, replay, clashes, input checks,
owner isolation, and holding the reply with `wait`."""
from datetime import timedelta

import pytest

from engine.models import Transaction
from engine.selectors import transaction_as_dict, transaction_get
from tests.api.conftest import start

START = "/api/v1/transactions"


def tx_url(tx_id):
    return f"/api/v1/transactions/{tx_id}"


def test_start_is_201_with_location_and_the_transaction_object(api, harness):
    response = api.post(START, {"transaction_type": "echo", "data": {"order": 17}, "metadata": {"lang": "en"},
                                "external_id": "order-17"}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert response["Location"] == tx_url(body["tx_id"]) == body["links"]["self"]
    assert body["links"]["console"] == f"/mondat/transactions/{body['tx_id']}"
    assert body["status"] == "queued" and body["input"] == {"order": 17} and body["metadata"] == {"lang": "en"}
    assert body["external_id"] == "order-17" and body["transaction_type"] == "echo" and body["data"] is None
    assert body == transaction_as_dict(tx=transaction_get(tx_id=body["tx_id"]))
    assert harness.run(body["tx_id"]).status == "success"


def test_only_the_transaction_type_is_required_and_data_defaults_to_an_object(api):
    body = api.post(START, {"transaction_type": "echo"}, format="json").json()
    assert (body["input"], body["metadata"], body["external_id"]) == ({}, {}, None)


def test_starting_again_with_the_same_external_id_type_and_data_replays_with_200(api):
    fields = {"transaction_type": "echo", "external_id": "order-17", "data": {"a": [1, 2], "b": {"c": None}}}
    first = api.post(START, fields, format="json").json()
    again = api.post(START, {**fields, "data": {"b": {"c": None}, "a": [1, 2]}, "metadata": {"x": 1},
                             "wait": "PT0S", "deadline": "P1D"}, format="json")
    assert again.status_code == 200
    assert again["Idempotent-Replayed"] == "true"
    assert again.json()["tx_id"] == first["tx_id"] and again.json()["metadata"] == {}


@pytest.mark.parametrize("change", [{"data": {"a": 2}}, {"transaction_type": "nap"}])
def test_the_same_external_id_with_another_request_is_409_naming_the_holder(api, change):
    fields = {"transaction_type": "echo", "external_id": "order-17", "data": {"a": 1}}
    first = start(api, **{k: v for k, v in fields.items() if k != "transaction_type"})
    response = api.post(START, {**fields, **change}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "duplicate_external_id"
    assert response.json()["extra"] == {"tx_id": first}


def test_external_ids_are_per_owner(api, other_api):
    mine = start(api, external_id="order-17")
    theirs = start(other_api, external_id="order-17")
    assert mine != theirs


@pytest.mark.parametrize("transaction_type", ["no-such-pipeline", "helper"])
def test_an_unknown_or_child_only_type_is_unknown_transaction_type(api, transaction_type):
    response = api.post(START, {"transaction_type": transaction_type}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "unknown_transaction_type"


def test_starting_a_child_only_type_or_a_misspelt_one_says_what_to_do(api):
    response = api.post(START, {"transaction_type": "helper"}, format="json")
    assert (response.status_code, response.json()["code"]) == (400, "unknown_transaction_type")
    assert response.json()["message"] == (
        "`helper` is a child-only pipeline: start it from a parent's step (util/child-pipeline or util/call), "
        "not directly.")
    response = api.post(START, {"transaction_type": "ecoh"}, format="json")
    assert (response.status_code, response.json()["code"]) == (400, "unknown_transaction_type")
    assert response.json()["message"] == "No transaction type named 'ecoh'. Did you mean `echo`?"


@pytest.mark.parametrize("fields, bad", [
    ({}, "transaction_type"),
    ({"transaction_type": 17}, "transaction_type"),
    ({"transaction_type": ""}, "transaction_type"),
    ({"transaction_type": "echo", "data": [1]}, "data"),
    ({"transaction_type": "echo", "data": "x"}, "data"),
    ({"transaction_type": "echo", "metadata": []}, "metadata"),
    ({"transaction_type": "echo", "external_id": "has space"}, "external_id"),
    ({"transaction_type": "echo", "external_id": "x" * 129}, "external_id"),
    ({"transaction_type": "echo", "external_id": 17}, "external_id"),
    ({"transaction_type": "echo", "deadline": "soon"}, "deadline"),
    ({"transaction_type": "echo", "deadline": 17}, "deadline"),
    ({"transaction_type": "echo", "wait": "ten seconds"}, "wait"),
    ({"transaction_type": "echo", "wait": 10}, "wait"),
    ({"transaction_type": "echo", "webhook": "ftp://example.com"}, "webhook"),
    ({"transaction_type": "echo", "webhook_progress": "yes"}, "webhook_progress"),
])
def test_invalid_fields_are_invalid_request_naming_the_field_and_start_nothing(api, harness, fields, bad):
    response = api.post(START, fields, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_request"
    assert bad in response.json()["extra"]["fields"]
    assert not Transaction.objects.exists()


def test_a_deadline_given_as_a_duration_is_measured_from_now(api, harness):
    body = api.post(START, {"transaction_type": "echo", "deadline": "PT1H"}, format="json").json()
    assert body["deadline_at"] == (harness.now() + timedelta(hours=1)).isoformat().replace("+00:00", "Z")


def test_get_returns_the_transaction_as_it_stands(api, harness):
    tx_id = start(api, "approval")
    harness.run(tx_id)
    body = api.get(tx_url(tx_id)).json()
    assert body["status"] == "sleeping"
    assert body["waiting"]["reason"] == "switch" and body["waiting"]["switch"] == "approved"
    assert body["switches"] == {"approved": None}


def test_another_owners_transaction_is_404_exactly_like_a_missing_one(api, other_api):
    tx_id = start(api)
    theirs = other_api.get(tx_url(tx_id))
    missing = other_api.get(tx_url("tx-does-not-exist"))
    assert theirs.status_code == missing.status_code == 404
    assert theirs.json() == missing.json()
    assert theirs.json()["code"] == "not_found"


def test_get_with_wait_replies_as_soon_as_the_transaction_finishes(api, harness, busy_world):
    tx_id = start(api, "nap")
    harness.settle()
    before = harness.now()
    body = api.get(tx_url(tx_id), {"wait": "PT15S"}).json()
    assert body["status"] == "success"
    assert timedelta(seconds=5) <= harness.now() - before < timedelta(seconds=6)


def test_get_with_wait_gives_the_current_object_when_the_wait_passes(api, harness, busy_world):
    tx_id = start(api, "approval")
    before = harness.now()
    body = api.get(tx_url(tx_id), {"wait": "PT15S"}).json()
    assert body["status"] == "sleeping"
    assert harness.now() - before == timedelta(seconds=15)


def test_a_wait_is_capped_at_max_wait(api, harness, busy_world, settings):
    settings.DATP = {**settings.DATP, "MAX_WAIT": "PT20S"}
    tx_id = start(api, "approval")
    before = harness.now()
    assert api.get(tx_url(tx_id), {"wait": "P1D"}).status_code == 200
    assert harness.now() - before == timedelta(seconds=20)


def test_waiting_on_a_finished_transaction_replies_at_once(api, harness, busy_world):
    tx_id = start(api)
    harness.run(tx_id)
    before = harness.now()
    assert api.get(tx_url(tx_id), {"wait": "PT30S"}).json()["status"] == "success"
    assert harness.now() == before


def test_a_bad_wait_on_get_is_invalid_request(api):
    tx_id = start(api)
    response = api.get(tx_url(tx_id), {"wait": "forever"})
    assert response.status_code == 400
    assert response.json()["extra"]["fields"] == {"wait": ["Not an ISO 8601 duration."]}


def test_start_with_wait_holds_the_reply_until_the_transaction_finishes(api, harness, busy_world):
    response = api.post(START, {"transaction_type": "nap", "data": {"n": 1}, "wait": "PT10S"}, format="json")
    assert response.status_code == 201
    assert response.json()["status"] == "success" and response.json()["data"] == {"n": 1}


def test_start_with_wait_replies_unfinished_when_the_wait_passes(api, harness, busy_world):
    before = harness.now()
    response = api.post(START, {"transaction_type": "approval", "wait": "PT3S"}, format="json")
    assert response.status_code == 201 and response.json()["status"] == "sleeping"
    assert harness.now() - before == timedelta(seconds=3)
