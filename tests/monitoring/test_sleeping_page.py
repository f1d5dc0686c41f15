"""The Sleeping page: sleepers by next wake-up, filters, keyset pages, owners, and the wake action."""
import pytest

from engine.models import JournalEntry
from monitoring.views import sleeping as sleeping_views
from tests.monitoring.conftest import login, make_user

URL = "/mondat/sleeping/"


def sleeping_ids(response):
    return [s.tx_id for s in response.context["rows"]]


@pytest.fixture
def sleepers(world):
    """A switch sleeper (approval), a timer sleeper (nap, wakes in 5 s), a callback sleeper (hooked)."""
    ids = {"approval": world.start("approval", {}), "nap": world.start("nap", {}), "hooked": world.start("hooked", {})}
    world.settle()
    for tx_id in ids.values():
        assert world.result(tx_id).status == "sleeping"
    return ids


def test_the_page_lists_each_sleeper_with_what_it_waits_for(viewer, sleepers):
    response = viewer.get(URL)
    assert response.status_code == 200
    body = response.content.decode()
    for tx_id in sleepers.values():
        assert f"/mondat/transactions/{tx_id}/" in body
    assert "switch <code>approved</code>" in body
    assert "callback <code>default</code>" in body
    assert "timer" in body
    assert "in 5 s" in body


def test_a_parent_waiting_on_its_child_links_to_the_child(viewer, world):
    world.load({"name": "parent", "steps": [{"name": "ask", "type": "util/child-pipeline",
                                              "config": {"pipeline": "approval"}}]})
    parent_id = world.start("parent", {})
    world.settle()
    response = viewer.get(URL, {"reason": "child"})
    [row] = response.context["rows"]
    assert row.tx_id == parent_id
    assert f'child <a class="mono" href="/mondat/transactions/{row.child_id}/">' in response.content.decode()


def test_sleepers_come_by_next_wake_up_with_those_without_a_timer_last(viewer, world, sleepers):
    world.advance("PT2S")
    later_nap = world.start("nap", {})
    world.settle()
    rows = viewer.get(URL).context["rows"]
    assert [row.tx_id for row in rows[:2]] == [sleepers["nap"], later_nap]
    assert rows[0].wake_at < rows[1].wake_at
    untimed = sorted([sleepers["approval"], sleepers["hooked"]])
    assert [row.tx_id for row in rows[2:]] == untimed


def test_the_reason_filter_keeps_only_that_reason(viewer, sleepers):
    assert sleeping_ids(viewer.get(URL, {"reason": "timer"})) == [sleepers["nap"]]
    assert sleeping_ids(viewer.get(URL, {"reason": "switch"})) == [sleepers["approval"]]


def test_the_switch_and_type_filters_keep_only_matching_sleepers(viewer, sleepers):
    assert sleeping_ids(viewer.get(URL, {"switch": "approved"})) == [sleepers["approval"]]
    assert sleeping_ids(viewer.get(URL, {"switch": "nothing"})) == []
    assert sleeping_ids(viewer.get(URL, {"transaction_type": "hooked"})) == [sleepers["hooked"]]


def test_an_unknown_reason_is_ignored_rather_than_an_error(viewer, sleepers):
    response = viewer.get(URL, {"reason": "<script>"})
    assert response.status_code == 200
    assert len(response.context["rows"]) == 3


def test_pages_follow_one_another_without_gaps_or_repeats(viewer, world, monkeypatch):
    monkeypatch.setattr(sleeping_views, "PAGE_SIZE", 2)
    started = [world.start("nap", {}) for _ in range(3)] + [world.start("approval", {}) for _ in range(2)]
    world.settle()
    seen, url = [], URL
    for _ in range(10):
        response = viewer.get(url)
        seen += sleeping_ids(response)
        url = response.context["next_url"]
        if url is None:
            break
    assert sorted(seen) == sorted(started)
    assert len(seen) == len(set(seen))
    assert seen[-2:] == sorted(started[3:])


def test_a_bad_cursor_shows_the_first_page(viewer, sleepers):
    response = viewer.get(URL, {"cursor": "not-a-cursor"})
    assert response.status_code == 200
    assert len(response.context["rows"]) == 3


def test_the_bulk_wake_link_carries_the_filters(operator, sleepers):
    response = operator.get(URL, {"reason": "switch", "switch": "approved", "transaction_type": "approval"})
    url = response.context["bulk_wake_url"]
    assert url == "/mondat/bulk/wake/?status=sleeping&waiting_reason=switch&switch=approved&transaction_type=approval"
    assert url.replace("&", "&amp;") in response.content.decode()


def test_another_owners_sleepers_never_appear(other_operator, sleepers):
    response = other_operator.get(URL)
    assert response.status_code == 200
    assert sleeping_ids(response) == []
    for tx_id in sleepers.values():
        assert tx_id not in response.content.decode()


def test_a_user_of_two_owners_sees_both_and_can_filter_by_owner(world, sleepers):
    both = login(make_user("bo", "viewer", [world.owner, "other"]))
    with world.__class__(owner="other", start_at=world.now()) as other_world:
        theirs = other_world.start("approval", {})
        other_world.settle()
    assert theirs in sleeping_ids(both.get(URL))
    assert sleeping_ids(both.get(URL, {"owner": "other"})) == [theirs]


def test_a_viewer_sees_no_wake_button_and_a_forged_wake_is_forbidden(viewer, world, sleepers):
    body = viewer.get(URL).content.decode()
    assert "/wake" not in body
    assert "Bulk wake" not in body
    response = viewer.post(f"/mondat/sleeping/{sleepers['approval']}/wake", {"reason": "x"})
    assert response.status_code == 403
    assert world.result(sleepers["approval"]).status == "sleeping"


def test_an_operator_wakes_a_sleeper_and_the_journal_names_the_user(operator, world, sleepers):
    tx_id = sleepers["approval"]
    assert f'action="/mondat/sleeping/{tx_id}/wake"' in operator.get(URL).content.decode()
    response = operator.post(f"/mondat/sleeping/{tx_id}/wake", {"reason": "customer called", "next": URL + "?reason=switch"})
    assert response.status_code == 302
    assert response["Location"] == URL + "?reason=switch"
    assert world.result(tx_id).status == "queued"
    entry = JournalEntry.objects.filter(tx_id=tx_id, kind="woken").last()
    assert entry.actor == "user:otto"
    assert "customer called" in entry.data["why"]


def test_waking_a_transaction_that_no_longer_sleeps_says_why(operator, world):
    tx_id = world.start("echo", {})
    world.run(tx_id)
    response = operator.post(f"/mondat/sleeping/{tx_id}/wake", follow=True)
    assert response.status_code == 200
    assert "not sleeping" in response.content.decode()


def test_waking_another_owners_transaction_is_a_404(other_operator, world, sleepers):
    response = other_operator.post(f"/mondat/sleeping/{sleepers['approval']}/wake")
    assert response.status_code == 404
    assert world.result(sleepers["approval"]).status == "sleeping"


def test_an_offsite_next_is_ignored(operator, sleepers):
    response = operator.post(f"/mondat/sleeping/{sleepers['nap']}/wake", {"next": "https://evil.example/"})
    assert response["Location"] == URL


def test_the_page_escapes_the_filters_it_echoes(operator, sleepers):
    body = operator.get(URL, {"switch": '"><script>alert(1)</script>'}).content.decode()
    assert "<script>alert(1)</script>" not in body
    assert "&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in body


def test_the_query_count_does_not_grow_with_the_rows(viewer, world, django_assert_max_num_queries):
    for _ in range(3):
        world.start("hooked", {})
    world.settle()
    with django_assert_max_num_queries(8) as few:
        viewer.get(URL)
    for _ in range(20):
        world.start("hooked", {})
        world.start("nap", {})
    world.settle()
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = viewer.get(URL)
    assert len(response.context["rows"]) == 43


def test_a_login_is_required(client, world):
    response = client.get(URL)
    assert response.status_code == 302
    assert "/login" in response["Location"]
