"""PATCH /api/v1/transactions/{tx_id} (move or clear the deadline) and
GET /api/v1/transactions/by-external-id/{external_id} (lookup, with `wait`)."""
from datetime import timedelta
from urllib.parse import quote

import pytest

from engine.models import JournalEntry
from engine.selectors import transaction_as_dict, transaction_get
from tests.api.conftest import start


def tx_url(tx_id):
    return f"/api/v1/transactions/{tx_id}"


def by_external_id(external_id):
    return f"/api/v1/transactions/by-external-id/{quote(external_id, safe='')}"


def iso(moment):
    return moment.isoformat().replace("+00:00", "Z")


def test_patch_with_a_duration_sets_the_deadline_from_now_and_journals_who_and_why(api, harness):
    tx_id = start(api, "approval")
    response = api.patch(tx_url(tx_id), {"deadline": "PT1H", "reason": "customer asked"}, format="json")
    assert response.status_code == 200
    assert response.json()["deadline_at"] == iso(harness.now() + timedelta(hours=1))
    assert response.json() == transaction_as_dict(tx=transaction_get(tx_id=tx_id))
    entry = JournalEntry.objects.filter(tx_id=tx_id, kind="deadline").get()
    assert entry.actor == "api-key:myapp" and entry.data["reason"] == "customer asked"


def test_patch_with_a_timestamp_or_null_moves_or_clears_the_deadline(api, harness):
    tx_id = start(api, "approval", deadline="P1D")
    moment = iso(harness.now() + timedelta(days=3))
    assert api.patch(tx_url(tx_id), {"deadline": moment}, format="json").json()["deadline_at"] == moment
    assert api.patch(tx_url(tx_id), {"deadline": None}, format="json").json()["deadline_at"] is None


def test_a_moved_deadline_is_the_one_that_times_the_transaction_out(api, harness):
    tx_id = start(api, "approval", deadline="P1D")
    api.patch(tx_url(tx_id), {"deadline": "PT1H"}, format="json")
    before = harness.now()
    assert harness.run(tx_id).status == "timeout"
    assert harness.now() - before < timedelta(hours=2)


def test_patch_on_a_finished_transaction_is_transaction_finished(api, harness):
    tx_id = start(api)
    harness.run(tx_id)
    response = api.patch(tx_url(tx_id), {"deadline": "PT1H"}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "transaction_finished"


@pytest.mark.parametrize("body, bad", [
    ({}, "deadline"),
    ({"deadline": "tomorrow"}, "deadline"),
    ({"deadline": 5}, "deadline"),
    ({"deadline": "PT1H", "reason": 7}, "reason"),
])
def test_a_bad_patch_body_is_invalid_request(api, body, bad):
    tx_id = start(api, "approval")
    response = api.patch(tx_url(tx_id), body, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_request"
    assert bad in response.json()["extra"]["fields"]


def test_patch_on_another_owners_transaction_is_not_found(api, other_api):
    tx_id = start(other_api, "approval")
    response = api.patch(tx_url(tx_id), {"deadline": "PT1H"}, format="json")
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert transaction_get(tx_id=tx_id).deadline_at is None


@pytest.mark.parametrize("external_id", ["order-17", "orders/2026/17", "a%b?c#d"])
def test_a_transaction_is_found_by_its_percent_encoded_external_id(api, external_id):
    tx_id = start(api, external_id=external_id)
    response = api.get(by_external_id(external_id))
    assert response.status_code == 200
    assert response.json() == transaction_as_dict(tx=transaction_get(tx_id=tx_id))


def test_an_unknown_or_another_owners_external_id_is_not_found(api, other_api):
    start(other_api, external_id="theirs")
    for external_id in ("theirs", "nobody"):
        response = api.get(by_external_id(external_id))
        assert response.status_code == 404 and response.json()["code"] == "not_found"


def test_by_external_id_with_wait_holds_the_reply_until_the_transaction_finishes(api, harness, busy_world):
    start(api, "nap", external_id="napper", data={"n": 1})
    before = harness.now()
    body = api.get(by_external_id("napper"), {"wait": "PT30S"}).json()
    assert body["status"] == "success" and body["data"] == {"n": 1}
    assert timedelta(seconds=5) <= harness.now() - before < timedelta(seconds=6)


def test_by_external_id_with_a_bad_wait_is_invalid_request(api):
    start(api, external_id="x")
    response = api.get(by_external_id("x"), {"wait": "soon"})
    assert response.status_code == 400 and "wait" in response.json()["extra"]["fields"]
