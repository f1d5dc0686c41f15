"""The Switches page: switches sleepers wait on, grouped with counts; global switches set and cleared."""
import pytest

from engine.models import GlobalSwitchChange, JournalEntry
from engine.services.switches import global_switch_set
from tests.monitoring.conftest import login, make_user

URL = "/mondat/switches/"
SET_URL = "/mondat/switches/global/"

GLOBAL_WAIT = {"name": "gated", "steps": [
    {"name": "gate", "type": "util/wait-switch", "config": {"switch": "open", "scope": "global"}},
    {"name": "done", "type": "util/echo"},
]}


@pytest.fixture
def waiting(world):
    """Three transactions waiting on the transaction switch `approved`, two on the global switch `open`."""
    world.load(GLOBAL_WAIT)
    ids = {"approval": [world.start("approval", {}) for _ in range(3)],
           "gated": [world.start("gated", {}) for _ in range(2)]}
    world.settle()
    return ids


def group(response, switch, scope):
    return next(g for g in response.context["groups"] if g["switch"] == switch and g["scope"] == scope)


def test_switches_waited_on_are_grouped_with_counts(viewer, waiting):
    response = viewer.get(URL)
    assert response.status_code == 200
    assert group(response, "approved", "transaction")["waiting"] == 3
    assert group(response, "open", "global")["waiting"] == 2
    body = response.content.decode()
    assert "3 waiting" in body and "2 waiting" in body


def test_each_group_links_to_its_waiting_transactions_and_a_bulk_set(operator, world, waiting):
    response = operator.get(URL)
    approved = group(response, "approved", "transaction")
    assert approved["list_url"] == f"/mondat/transactions/?status=sleeping&switch=approved&owner={world.owner}"
    assert approved["bulk_set_url"] == (
        f"/mondat/bulk/set_switch/?status=sleeping&switch=approved&owner={world.owner}&name=approved")
    body = response.content.decode()
    assert approved["bulk_set_url"].replace("&", "&amp;") in body
    assert "bulk_set_url" not in group(response, "open", "global")


def test_another_owners_waits_and_global_switches_never_appear(other_operator, world, waiting):
    global_switch_set(owner=world.owner, name="secret", value=True, actor="app:test")
    response = other_operator.get(URL)
    assert response.context["groups"] == []
    assert response.context["global_switches"] == []
    assert "secret" not in response.content.decode()
    assert "approved" not in response.content.decode()


def test_global_switches_show_value_and_who_set_them(viewer, world):
    global_switch_set(owner=world.owner, name="maintenance", value="on", actor="user:someone", reason="deploy")
    body = viewer.get(URL).content.decode()
    assert "maintenance" in body
    assert "user:someone" in body
    assert "deploy" in body


def test_a_viewer_sees_no_forms_and_a_forged_set_is_forbidden(viewer, world, waiting):
    body = viewer.get(URL).content.decode()
    assert SET_URL not in body
    assert "Bulk set" not in body
    response = viewer.post(SET_URL, {"owner": world.owner, "name": "open", "value": "true"})
    assert response.status_code == 403
    assert world.result(waiting["gated"][0]).status == "sleeping"


def test_an_operator_sets_a_global_switch_and_wakes_its_waiters(operator, world, waiting):
    assert SET_URL in operator.get(URL).content.decode()
    response = operator.post(SET_URL, {"owner": world.owner, "name": "open", "value": "true",
                                       "reason": "window opened"}, follow=True)
    assert response.status_code == 200
    assert "woke 2 transactions" in response.content.decode()
    for tx_id in waiting["gated"]:
        assert world.result(tx_id).status == "queued"
        entry = JournalEntry.objects.filter(tx_id=tx_id, kind="woken").last()
        assert entry.actor == "user:otto"
    change = GlobalSwitchChange.objects.get(switch__name="open")
    assert (change.value, change.actor, change.reason, change.woken) == (True, "user:otto", "window opened", 2)
    assert change.channel == "console"


def test_clearing_a_global_switch_sets_it_to_null(operator, world):
    global_switch_set(owner=world.owner, name="maintenance", value=True, actor="app:test")
    response = operator.post(SET_URL, {"owner": world.owner, "name": "maintenance", "clear": "1"}, follow=True)
    assert "cleared" in response.content.decode()
    change = GlobalSwitchChange.objects.filter(switch__name="maintenance").last()
    assert (change.value, change.actor) == (None, "user:otto")


@pytest.mark.parametrize(("typed", "stored"), [("true", True), ("3", 3), ("null", None), ('"x"', "x"),
                                               ("hello", "hello")])
def test_a_typed_value_is_a_json_scalar_or_else_text(operator, world, typed, stored):
    operator.post(SET_URL, {"owner": world.owner, "name": "s", "value": typed})
    change = GlobalSwitchChange.objects.filter(switch__name="s").last()
    assert change is not None
    assert change.value == stored


def test_a_typed_value_that_is_json_but_no_scalar_is_refused_with_the_engines_message(operator, world):
    response = operator.post(SET_URL, {"owner": world.owner, "name": "s", "value": "[1]"}, follow=True)
    assert "true, false, a number, a string or null" in response.content.decode()
    assert not GlobalSwitchChange.objects.filter(switch__name="s").exists()


def test_a_bad_switch_name_is_refused_with_a_message(operator, world):
    response = operator.post(SET_URL, {"owner": world.owner, "name": "bad name!", "value": "1"}, follow=True)
    assert response.status_code == 200
    assert "switch name" in response.content.decode()
    assert not GlobalSwitchChange.objects.exists()


def test_setting_another_owners_global_switch_is_a_404(other_operator, world):
    response = other_operator.post(SET_URL, {"owner": world.owner, "name": "open", "value": "true"})
    assert response.status_code == 404
    assert not GlobalSwitchChange.objects.exists()


def test_a_system_user_sees_every_owner_and_may_set_for_any(system_user, world, waiting):
    with world.__class__(owner="other", start_at=world.now()) as other_world:
        other_world.start("approval", {})
        other_world.settle()
    response = system_user.get(URL)
    owners = {g["owner_id"] for g in response.context["groups"]}
    assert owners == {world.owner, "other"}
    assert response.context["owners"] == sorted([world.owner, "other"])
    assert system_user.post(SET_URL, {"owner": "nobody", "name": "x", "value": "1"}).status_code == 404


def test_a_member_of_two_owners_chooses_the_owner_in_the_form(world):
    both = login(make_user("bo", "operator", [world.owner, "other"]))
    body = both.get(URL).content.decode()
    assert f'<option value="{world.owner}">' in body and '<option value="other">' in body
    both.post(SET_URL, {"owner": "other", "name": "flag", "value": "1"})
    assert GlobalSwitchChange.objects.get(switch__name="flag").switch.owner_id == "other"


def test_the_query_count_does_not_grow_with_the_groups(viewer, world, django_assert_max_num_queries):
    world.load(GLOBAL_WAIT)
    world.start("approval", {})
    world.settle()
    with django_assert_max_num_queries(8) as few:
        viewer.get(URL)
    for name in ("a", "b", "c"):
        global_switch_set(owner=world.owner, name=name, value=True, actor="app:test")
        global_switch_set(owner=world.owner, name=name, value=False, actor="app:test")
    for _ in range(5):
        world.start("gated", {})
        world.start("approval", {})
    world.settle()
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = viewer.get(URL)
    assert len(response.context["global_switches"]) == 3
    assert all(s.last_woken == 0 for s in response.context["global_switches"])


def test_reason_fields_state_the_engines_reason_max(operator, waiting):
    body = operator.get(URL).content.decode()
    assert 'name="reason" placeholder="reason (optional)" maxlength="2000"' in body
    assert 'name="reason" maxlength="2000" placeholder="optional"' in body
