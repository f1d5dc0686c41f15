"""Bad input gets a typed 400 naming its field and changes nothing: durations and times past what
`datetime` can hold, negative ones and garbage; NUL characters and lone surrogates in any string field."""
import json

import pytest

from engine.models import JournalEntry, Transaction
from tests.api.conftest import start

TXS = "/api/v1/transactions"
BAD_TIMES = ["P1000000Y", "P8000Y", "PT99999999999999999999S", "-P1D", "P1.5Y", "P", "tomorrow", 17, [], {},
             "0001-01-01T00:00:00+01:00", "9999-12-31T23:00:00-05:00", "10000-01-01T00:00:00Z", "2026-01-01T00:00:00"]


def fields_of(response):
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid_request"
    return body["extra"]["fields"]


def raw_post(client, url, text, method="post"):
    return getattr(client, method)(url, data=text.encode("utf-8", "surrogatepass"), content_type="application/json")


@pytest.mark.parametrize("deadline", BAD_TIMES)
def test_a_start_with_a_bad_deadline_is_invalid_request_on_deadline_and_starts_nothing(api, deadline):
    response = api.post(TXS, {"transaction_type": "echo", "deadline": deadline}, format="json")
    assert list(fields_of(response)) == ["deadline"]
    assert not Transaction.objects.exists()


@pytest.mark.parametrize("deadline", BAD_TIMES)
def test_a_deadline_move_to_a_bad_deadline_is_invalid_request_and_changes_nothing(api, deadline):
    tx_id = start(api, "approval", deadline="P1D")
    before = Transaction.objects.get(pk=tx_id).deadline_at
    response = api.patch(f"{TXS}/{tx_id}", {"deadline": deadline}, format="json")
    assert list(fields_of(response)) == ["deadline"]
    assert Transaction.objects.get(pk=tx_id).deadline_at == before
    assert not JournalEntry.objects.filter(tx_id=tx_id, kind="deadline").exists()


def test_a_retry_with_a_bad_deadline_is_invalid_request_and_leaves_the_transaction_failed(api, harness):
    tx_id = start(api, "failing")
    harness.run(tx_id)
    response = api.post(f"{TXS}/{tx_id}/retry", {"deadline": "P1000000Y"}, format="json")
    assert list(fields_of(response)) == ["deadline"]
    assert Transaction.objects.get(pk=tx_id).status == "failed"


def test_a_negative_deadline_says_so(api):
    response = api.post(TXS, {"transaction_type": "echo", "deadline": "-P1D"}, format="json")
    assert fields_of(response) == {"deadline": ["A duration must not be negative."]}


def test_the_latest_deadline_the_engine_can_hold_is_accepted(api):
    response = api.post(TXS, {"transaction_type": "echo", "deadline": "9999-12-31T00:00:00Z"}, format="json")
    assert response.status_code == 201
    assert response.json()["deadline_at"] == "9999-12-31T00:00:00Z"


@pytest.mark.parametrize("wait", ["P1000000Y", "P8000Y", "-PT1S", "P1.5M", "soon", 10])
def test_a_start_with_a_bad_wait_is_invalid_request_on_wait_and_starts_nothing(api, wait):
    response = api.post(TXS, {"transaction_type": "echo", "wait": wait}, format="json")
    assert list(fields_of(response)) == ["wait"]
    assert not Transaction.objects.exists()


@pytest.mark.parametrize("wait", ["P1000000Y", "-PT1S", "PT1S\x00"])
def test_a_read_with_a_bad_wait_is_invalid_request_on_wait(api, wait):
    tx_id = start(api)
    assert list(fields_of(api.get(f"{TXS}/{tx_id}", {"wait": wait}))) == ["wait"]


@pytest.mark.parametrize("field, value", [
    ("external_id", "order\x0017"), ("external_id", "order\ud80017"), ("transaction_type", "echo\x00"),
    ("webhook", "https://example.com/\x00"), ("deadline", "PT1H\x00"), ("wait", "PT1S\x00"),
])
def test_a_nul_or_a_lone_surrogate_is_reported_on_the_field_that_holds_it(api, field, value):
    body = {"transaction_type": "echo", field: value}
    response = raw_post(api, TXS, json.dumps(body))
    assert fields_of(response) == {field: ["Must not hold NUL characters or lone surrogates."]}
    assert not Transaction.objects.exists()


def test_a_nul_deep_inside_data_is_reported_on_data(api):
    response = raw_post(api, TXS, json.dumps({"transaction_type": "echo", "data": {"a": [{"b": "x\x00"}]}}))
    assert list(fields_of(response)) == ["data"]


def test_a_nul_in_a_field_name_is_reported_on_the_body(api):
    response = raw_post(api, TXS, json.dumps({"transaction_type": "echo", "da\x00ta": {}}))
    assert list(fields_of(response)) == ["body"]


def test_a_nul_in_a_reason_of_an_action_is_reported_on_reason(api):
    tx_id = start(api, "approval")
    response = raw_post(api, f"{TXS}/{tx_id}/cancel", json.dumps({"reason": "\x00"}))
    assert list(fields_of(response)) == ["reason"]
    assert Transaction.objects.get(pk=tx_id).status != "cancelled"


@pytest.mark.parametrize("path", ["/api/v1/transactions/tx-%00", "/api/v1/transactions/by-external-id/a%00b",
                                  "/api/v1/transactions/x/switches/a%00"])
def test_a_nul_in_the_path_names_nothing_that_exists(api, path):
    response = api.get(path)
    assert response.status_code == 404 and response.json()["code"] == "not_found"


@pytest.mark.parametrize("query, field", [("external_id=a%00b", "external_id"), ("status=queued%00", "status"),
                                          ("a%00=1", "query"), ("wait=PT1S%00&limit=1", "wait")])
def test_a_nul_in_the_query_string_is_invalid_request_on_that_parameter(api, query, field):
    assert fields_of(api.get(f"{TXS}?{query}")) == {field: ["Must not hold NUL characters or lone surrogates."]}


@pytest.mark.parametrize("limit", ["\u00b2", "9" * 5000, "0", "-1"])
def test_a_limit_that_is_no_plain_positive_number_is_invalid_request_or_capped(api, limit):
    response = api.get(TXS, {"limit": limit})
    if limit == "9" * 5000:
        assert response.status_code == 200
    else:
        assert list(fields_of(response)) == ["limit"]


def nested(depth):
    """Objects nested `depth` deep, counting the outermost."""
    value = {}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


@pytest.mark.parametrize("data, message", [
    ({"n": 1e400}, "Numbers must be finite."),
    (nested(64), "Nested deeper than 64 arrays or objects."),
    ([[]] * 2 + [nested(80)], "Nested deeper than 64 arrays or objects."),
])
def test_data_no_database_or_renderer_can_hold_is_invalid_request_on_data(api, data, message):
    text = json.dumps({"transaction_type": "echo", "data": data}).replace("Infinity", "1e400")
    assert fields_of(raw_post(api, TXS, text)) == {"data": [message]}
    assert not Transaction.objects.exists()


def test_data_nested_as_deep_as_allowed_is_stored_and_read_back(api):
    data = nested(63)  # the body itself is the 64th
    response = api.post(TXS, {"transaction_type": "echo", "data": data}, format="json")
    assert response.status_code == 201 and response.json()["input"] == data


def test_a_post_to_an_unknown_api_url_from_a_browser_session_is_a_json_404(api):
    from rest_framework.test import APIClient

    browser = APIClient(enforce_csrf_checks=True)
    response = browser.post("/api/v1/callbacks/", {"status": "cancel"}, format="json")
    assert response.status_code == 404 and response.json()["code"] == "not_found"


@pytest.mark.parametrize("body, field", [
    ('{"status": "progress", "data": {"at": "2026-01-01T00:00:00\\u0000Z"}}', "data"),
    ('{"status": "progress\\u0000"}', "status"),
    ('{"status": "progress", "data": {"n": 1e400}}', "data"),
])
def test_a_callback_body_no_database_can_hold_is_invalid_request_and_changes_nothing(anon, api, harness, body, field):
    tx_id = start(api, "hooked")
    harness.settle()
    token = harness.callback_token(tx_id)
    before = anon.get(f"/api/v1/callbacks/{token}").json()
    assert list(fields_of(anon.post(f"/api/v1/callbacks/{token}", body, content_type="application/json"))) == [field]
    assert anon.get(f"/api/v1/callbacks/{token}").json() == before
