"""The Transactions page: scope by owner, every filter, keyset pages, the htmx body, the Bulk menu, query counts."""
from datetime import timedelta
from urllib.parse import parse_qs

import pytest

from tests.monitoring.conftest import login, make_user

LIST = "/mondat/transactions/"


def listed(response):
    assert response.status_code == 200, response.content[:500]
    return [row["tx"].pk for row in response.context["rows"]]


@pytest.fixture
def mixed(world):
    """Transactions in several statuses and of two owners, a second apart, oldest first."""
    found = {}
    for name, kind in [("done", "echo"), ("failed", "failing"), ("napping", "nap"), ("waiting", "approval")]:
        found[name] = world.start(kind, external_id=f"ext-{name}")
        world.settle()
        world.clock.sleep(1)
    found["other"] = world.start("echo", owner="other")
    world.settle()
    return found


def test_the_list_is_newest_first_and_holds_only_the_users_owners(operator, other_operator, mixed):
    mine = [mixed[name] for name in ("waiting", "napping", "failed", "done")]
    assert listed(operator.get(LIST)) == mine
    assert listed(other_operator.get(LIST)) == [mixed["other"]]


def test_a_member_of_two_owners_and_a_system_user_see_both(world, system_user, mixed):
    both = login(make_user("bea", "viewer", [world.owner, "other"]))
    assert listed(both.get(LIST))[0] == mixed["other"]
    assert set(listed(both.get(LIST))) == set(mixed.values())
    assert set(listed(system_user.get(LIST))) == set(mixed.values())


def test_a_page_needs_a_login(client, world):
    response = client.get(LIST)
    assert response.status_code == 302 and "/login" in response["Location"]


def test_status_filter_takes_several_statuses_repeated_or_comma_separated(viewer, mixed):
    assert set(listed(viewer.get(LIST, {"status": ["success", "failed"]}))) == {mixed["done"], mixed["failed"]}
    assert set(listed(viewer.get(LIST + "?status=success,sleeping"))) == {mixed["done"], mixed["napping"],
                                                                          mixed["waiting"]}


def test_type_external_id_and_node_group_filters_match_exactly(viewer, mixed):
    assert listed(viewer.get(LIST, {"transaction_type": "nap"})) == [mixed["napping"]]
    assert listed(viewer.get(LIST, {"external_id": "ext-failed"})) == [mixed["failed"]]
    assert listed(viewer.get(LIST, {"external_id": "ext"})) == []
    assert len(listed(viewer.get(LIST, {"node_group": "master"}))) == 4
    assert listed(viewer.get(LIST, {"node_group": "elsewhere"})) == []


def test_waiting_reason_and_switch_filters_follow_the_sleeper(viewer, mixed):
    assert listed(viewer.get(LIST, {"waiting_reason": "timer"})) == [mixed["napping"]]
    assert listed(viewer.get(LIST, {"waiting_reason": "switch"})) == [mixed["waiting"]]
    assert listed(viewer.get(LIST, {"switch": "approved"})) == [mixed["waiting"]]
    assert listed(viewer.get(LIST, {"switch": "other"})) == []


def test_owner_filter_narrows_within_the_users_owners_and_never_beyond(world, operator, mixed):
    both = login(make_user("bea", "viewer", [world.owner, "other"]))
    assert listed(both.get(LIST, {"owner": "other"})) == [mixed["other"]]
    assert listed(operator.get(LIST, {"owner": "other"})) == []


def test_created_range_bounds_the_creation_time(world, viewer, mixed):
    failed_at = world.result(mixed["failed"]).tx.created_at
    after = (failed_at - timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S")
    before = (failed_at + timedelta(seconds=1.5)).isoformat().replace("+00:00", "Z")
    assert listed(viewer.get(LIST, {"created_after": after, "created_before": before})) == [
        mixed["napping"], mixed["failed"]]


def test_invalid_filters_list_nothing_and_say_why(viewer, mixed):
    response = viewer.get(LIST, {"status": "bogus", "created_after": "yesterday"})
    assert response.status_code == 400
    assert response.context["rows"] == []
    assert set(response.context["form"].errors) == {"status", "created_after"}
    assert viewer.get(LIST, {"cursor": "not-a-cursor"}).status_code == 400


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:00:00-05:00", "10000-01-01",
                                    "2026-01-01T00:00:00\x00", "9" * 500])
def test_a_created_filter_no_datetime_holds_is_a_form_error_not_a_500(viewer, mixed, moment):
    response = viewer.get(LIST, {"created_before": moment})
    assert response.status_code == 400
    assert set(response.context["form"].errors) == {"created_before"}


def test_pages_follow_each_other_without_duplicates_or_gaps(world, viewer):
    started = []
    for index in range(7):
        started.append(world.start("nap"))
        if index % 3 == 0:
            world.clock.sleep(1)
    expected = sorted(started, key=lambda tx_id: (world.result(tx_id).tx.created_at, tx_id), reverse=True)
    seen, query, pages = [], {"limit": "3"}, 0
    while query is not None:
        response = viewer.get(LIST, query)
        seen += listed(response)
        pages += 1
        next_query = response.context["next_query"]
        query = {name: values[-1] for name, values in parse_qs(next_query).items()} if next_query else None
    assert seen == expected and pages == 3


def test_the_query_count_does_not_grow_with_the_page(world, viewer, django_assert_max_num_queries):
    for _ in range(30):
        world.start("approval")
    world.settle()
    with django_assert_max_num_queries(6) as small:
        assert len(listed(viewer.get(LIST, {"limit": "2"}))) == 2
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert len(listed(viewer.get(LIST, {"limit": "30"}))) == 30


def test_the_rows_show_every_column_and_escape_what_they_show(world, viewer):
    tx_id = world.start("approval", external_id="<b>x</b>")
    world.settle()
    html = viewer.get(LIST).content.decode()
    assert f'href="/mondat/transactions/{tx_id}/"' in html
    assert "&lt;b&gt;x&lt;/b&gt;" in html and "<b>x</b>" not in html
    assert 'class="badge s-sleeping"' in html and "<code>approved</code>" in html


def test_an_htmx_refresh_gets_only_the_table_body(viewer, mixed):
    response = viewer.get(LIST, {"status": "failed"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert html.lstrip().startswith('<tbody id="tx-rows"') and "<form" not in html
    assert 'hx-trigger="every 5s"' in html and mixed["failed"] in html and mixed["done"] not in html


def test_the_bulk_menu_carries_the_filters_and_only_operators_see_it(viewer, operator, mixed):
    html = operator.get(LIST, {"status": "failed", "transaction_type": "failing", "cursor": ""}).content.decode()
    assert 'href="/mondat/bulk/retry/?status=failed&amp;transaction_type=failing"' in html
    assert "/mondat/bulk/" not in viewer.get(LIST, {"status": "failed"}).content.decode()


def test_finished_statuses_of_several_owners_page_newest_first_past_newer_sleepers(world, system_user,
                                                                                   django_assert_max_num_queries):
    world.load({"name": "abort", "steps": [{"type": "util/fixed-reply", "config": {"status": "aborted"}}]})
    finished = []
    for index in range(7):
        kind, owner = [("failing", world.owner), ("abort", world.owner), ("failing", "other")][index % 3]
        finished.append(world.start(kind, owner=owner))
        world.settle()
        if index % 2 == 0:
            world.clock.sleep(1)
    for _ in range(3):
        world.start("approval")  # newer than every finished one, and never listed here
    world.start("echo")
    world.settle()
    expected = sorted(finished, key=lambda tx_id: (world.result(tx_id).tx.created_at, tx_id), reverse=True)
    seen, query = [], {"status": "failed,aborted", "limit": "3"}
    while query is not None:
        with django_assert_max_num_queries(6):
            response = system_user.get(LIST, query)
        seen += listed(response)
        next_query = response.context["next_query"]
        query = {name: values[-1] for name, values in parse_qs(next_query).items()} if next_query else None
    assert seen == expected
    assert listed(system_user.get(LIST, {"status": "aborted"})) == [tx for tx in expected if tx in finished[1::3]]
