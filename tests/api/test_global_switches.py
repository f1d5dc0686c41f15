"""GET /api/v1/switches and PUT /api/v1/switches/{name}: an owner's global switches, and the
transactions that setting one wakes."""
import pytest

from engine.models import GlobalSwitchChange
from tests.api.conftest import start

SWITCHES = "/api/v1/switches"
GATED = {"name": "gated", "steps": [
    {"name": "gate", "type": "util/wait-switch", "config": {"switch": "open", "scope": "global"}},
    {"name": "done", "type": "util/echo"},
]}


@pytest.fixture
def gated(api, harness):
    harness.load(GATED)
    return api


def test_setting_a_global_switch_wakes_every_waiting_transaction_of_the_owner(gated, other_api, harness):
    mine = [start(gated, "gated") for _ in range(2)]
    theirs = start(other_api, "gated")
    harness.settle()
    response = gated.put(f"{SWITCHES}/open", {"value": True, "reason": "maintenance over"}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["action"] == "woken" and body["woken"] == 2
    assert body["switch"]["name"] == "open" and body["switch"]["value"] is True
    assert body["switch"]["set_by"] == "api-key:myapp"
    assert [harness.run(tx_id).status for tx_id in mine] == ["success", "success"]
    assert harness.result(theirs).status == "sleeping"
    change = GlobalSwitchChange.objects.get(switch__owner_id="test")
    assert (change.reason, change.woken, change.actor) == ("maintenance over", 2, "api-key:myapp")


def test_setting_the_same_value_again_is_unchanged_and_a_new_value_with_no_waiter_is_updated(gated):
    first = gated.put(f"{SWITCHES}/open", {"value": 1}, format="json").json()
    assert (first["action"], first["woken"]) == ("updated", 0)
    again = gated.put(f"{SWITCHES}/open", {"value": 1}, format="json").json()
    assert (again["action"], again["woken"]) == ("unchanged", 0)


def test_the_list_shows_only_the_callers_global_switches_by_name(gated, other_api):
    gated.put(f"{SWITCHES}/zeta", {"value": "z"}, format="json")
    gated.put(f"{SWITCHES}/alpha", {"value": 2.5}, format="json")
    other_api.put(f"{SWITCHES}/secret", {"value": True}, format="json")
    body = gated.get(SWITCHES).json()
    assert [(s["name"], s["value"], s["set_by"]) for s in body["switches"]] == [
        ("alpha", 2.5, "api-key:myapp"), ("zeta", "z", "api-key:myapp")]
    assert body["switches"][0]["set_at"].endswith("Z")
    assert [s["name"] for s in other_api.get(SWITCHES).json()["switches"]] == ["secret"]


def test_a_value_is_required(gated):
    response = gated.put(f"{SWITCHES}/open", {"reason": "x"}, format="json")
    assert response.status_code == 400
    assert response.json()["extra"]["fields"] == {"value": ["This field is required."]}


@pytest.mark.parametrize("name, value, bad", [("x" * 100, True, "name"), ("open", {"a": 1}, "value")])
def test_a_bad_switch_name_or_value_is_invalid_request(gated, name, value, bad):
    response = gated.put(f"{SWITCHES}/{name}", {"value": value}, format="json")
    assert response.status_code == 400 and response.json()["code"] == "invalid_request"
    assert bad in response.json()["extra"]["fields"]
    assert gated.get(SWITCHES).json()["switches"] == []


def test_global_switches_need_credentials(anon):
    assert anon.get(SWITCHES).status_code == 401
    assert anon.put(f"{SWITCHES}/open", {"value": True}, format="json").status_code == 401


def test_other_methods_on_a_global_switch_are_method_not_allowed(gated):
    response = gated.delete(f"{SWITCHES}/open")
    assert response.status_code == 405 and response.json()["code"] == "method_not_allowed"
