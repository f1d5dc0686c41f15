"""POST and GET /api/v1/callbacks/{token}: the token is the credential; updates merge data, a final
status wakes the awaiting step, and a final callback takes no more."""
import pytest

from tests.api.conftest import start


@pytest.fixture
def awaiting(api, harness):
    """A transaction sleeping on its callback `default`; returns (tx_id, token)."""
    tx_id = start(api, "hooked", data={"order": 17})
    assert harness.run(tx_id).status == "sleeping"
    return tx_id, harness.callback_token(tx_id)


def cb_url(token):
    return f"/api/v1/callbacks/{token}"


def test_get_shows_the_callback_without_a_key(anon, awaiting):
    _, token = awaiting
    response = anon.get(cb_url(token))
    assert response.status_code == 200
    callback = response.json()["callback"]
    assert set(callback) == {"name", "status", "data", "updated_at"}
    assert (callback["name"], callback["status"], callback["data"]) == ("default", "created", {})


def test_progress_updates_merge_data_and_leave_the_step_asleep(anon, awaiting, harness):
    tx_id, token = awaiting
    first = anon.post(cb_url(token), {"status": "progress", "data": {"percent": 40, "a": {"b": 1}}}, format="json")
    assert first.status_code == 200 and first.json()["action"] == "updated"
    second = anon.post(cb_url(token), {"status": "start", "data": {"a": {"c": 2}}}, format="json").json()
    assert second["callback"]["status"] == "start"
    assert second["callback"]["data"] == {"percent": 40, "a": {"b": 1, "c": 2}}
    assert harness.run(tx_id).status == "sleeping"


def test_complete_wakes_the_awaiting_step_and_the_journal_names_the_callback(anon, awaiting, harness):
    tx_id, token = awaiting
    response = anon.post(cb_url(token), {"status": "complete", "data": {"approved": True}}, format="json")
    assert response.status_code == 200 and response.json()["action"] == "woken"
    result = harness.run(tx_id)
    assert result.status == "success" and result.data["approved"] is True
    reports = [entry for entry in result.journal if entry.kind == "callback" and entry.data["status"] == "complete"]
    assert [entry.actor for entry in reports] == ["callback:default"]


def test_a_final_callback_accepts_no_more_updates(anon, awaiting):
    _, token = awaiting
    anon.post(cb_url(token), {"status": "error"}, format="json")
    response = anon.post(cb_url(token), {"status": "progress"}, format="json")
    assert response.status_code == 409 and response.json()["code"] == "callback_final"
    assert anon.get(cb_url(token)).json()["callback"]["status"] == "error"


@pytest.mark.parametrize("method", ["get", "post"])
def test_an_unknown_token_is_404(anon, db, method):
    response = getattr(anon, method)(cb_url("no-such-token"), {"status": "complete"}, format="json")
    assert response.status_code == 404 and response.json()["code"] == "not_found"


@pytest.mark.parametrize("body, field", [
    ({"status": "timeout"}, "status"),
    ({"status": "done"}, "status"),
    ({}, "status"),
    ({"status": 3}, "status"),
    ({"status": "progress", "data": [1]}, "data"),
])
def test_a_bad_status_or_data_is_invalid_request(anon, awaiting, body, field):
    _, token = awaiting
    response = anon.post(cb_url(token), body, format="json")
    assert response.status_code == 400 and response.json()["code"] == "invalid_request"
    assert field in response.json()["extra"]["fields"]


def test_a_callback_body_must_be_json(anon, awaiting):
    _, token = awaiting
    response = anon.post(cb_url(token), "status=complete", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415
