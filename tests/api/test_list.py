"""GET /api/v1/transactions: filters, newest-first keyset paging, payloads on request, owner isolation,
and a constant number of queries per page."""
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from engine.selectors import transaction_as_dict, transaction_get
from tests.api.conftest import start

LIST = "/api/v1/transactions"

GLOBAL_WAIT = {"name": "gated", "steps": [
    {"name": "gate", "type": "util/wait-switch", "config": {"switch": "open", "scope": "global"}},
]}
PARENT = {"name": "parent", "steps": [
    {"name": "call", "type": "util/call", "config": {"transaction_type": "approval"}},
]}


def ids(response):
    assert response.status_code == 200, response.json()
    return [item["tx_id"] for item in response.json()["results"]]


def test_the_list_is_newest_first_and_holds_only_the_callers_transactions(api, other_api, harness):
    first = start(api)
    harness.clock.sleep(1)
    second = start(api, "nap")
    start(other_api)
    assert ids(api.get(LIST)) == [second, first]
    assert api.get(LIST).json()["next"] is None


def test_items_leave_out_payloads_unless_expanded(api, harness):
    tx_id = start(api, data={"order": 17}, metadata={"lang": "en"})
    harness.run(tx_id)
    (item,) = api.get(LIST).json()["results"]
    full = transaction_as_dict(tx=transaction_get(tx_id=tx_id))
    assert item == {k: v for k, v in full.items() if k not in ("input", "metadata", "data", "progress")}
    (expanded,) = api.get(LIST, {"expand": "payload"}).json()["results"]
    assert expanded == full and expanded["input"] == {"order": 17} and expanded["data"] == {"order": 17}


def test_status_filter_takes_a_comma_separated_list(api, harness):
    done = start(api)
    harness.run(done)
    failed = start(api, "failing")
    harness.run(failed)
    queued = start(api, "nap")
    assert set(ids(api.get(LIST, {"status": "success,failed"}))) == {done, failed}
    assert ids(api.get(LIST, {"status": "queued"})) == [queued]


def test_type_external_id_and_node_group_filters_match_exactly(api, harness):
    echo = start(api, external_id="order/17")
    nap = start(api, "nap")
    assert ids(api.get(LIST, {"transaction_type": "nap"})) == [nap]
    assert ids(api.get(LIST, {"external_id": "order/17"})) == [echo]
    assert ids(api.get(LIST, {"external_id": "order"})) == []
    assert set(ids(api.get(LIST, {"node_group": "master"}))) == {echo, nap}
    assert ids(api.get(LIST, {"node_group": "elsewhere"})) == []


def test_waiting_reason_switch_and_parent_filters_follow_what_each_transaction_waits_on(api, harness):
    harness.load(GLOBAL_WAIT, PARENT)
    on_switch = start(api, "approval")
    on_timer = start(api, "nap")
    on_global = start(api, "gated")
    parent = start(api, "parent")
    harness.settle()
    child = transaction_get(tx_id=parent).children.get().pk
    assert set(ids(api.get(LIST, {"waiting_reason": "switch"}))) == {on_switch, on_global, child}
    assert ids(api.get(LIST, {"waiting_reason": "timer"})) == [on_timer]
    assert ids(api.get(LIST, {"waiting_reason": "child"})) == [parent]
    assert set(ids(api.get(LIST, {"switch": "approved"}))) == {on_switch, child}
    assert ids(api.get(LIST, {"switch": "open"})) == [on_global]
    assert ids(api.get(LIST, {"parent_tx_id": parent})) == [child]


def test_created_after_and_before_bound_the_creation_time(api, harness):
    early = start(api)
    harness.clock.sleep(60)
    middle_at = harness.now()
    middle = start(api)
    harness.clock.sleep(60)
    late = start(api)
    stamp = middle_at.isoformat().replace("+00:00", "Z")
    assert set(ids(api.get(LIST, {"created_before": stamp}))) == {early}
    assert ids(api.get(LIST, {"created_after": stamp})) == [late]
    assert middle not in ids(api.get(LIST, {"created_after": stamp, "created_before": stamp}))


def test_pages_follow_the_next_link_without_gaps_or_repeats_even_with_equal_creation_times(api, harness):
    started = {start(api) for _ in range(7)}  # virtual time stands still: every created_at is equal
    seen, url, pages = [], f"{LIST}?limit=3&status=queued", 0
    while url:
        body = api.get(url).json()
        seen += [item["tx_id"] for item in body["results"]]
        url, pages = body["next"], pages + 1
    assert pages == 3 and len(seen) == 7 and set(seen) == started
    assert seen == sorted(seen, reverse=True)


def test_a_page_is_read_in_a_fixed_number_of_queries(api, harness):
    for _ in range(3):
        start(api, "approval")
    harness.settle()
    api.get(LIST)  # the key's last-used time is touched on the first request only
    with CaptureQueriesContext(connection) as small:
        assert len(api.get(LIST, {"limit": 1}).json()["results"]) == 1
    for _ in range(6):
        start(api, "approval")
    harness.settle()
    with CaptureQueriesContext(connection) as large:
        body = api.get(LIST).json()
    assert len(body["results"]) == 9 and all(item["switches"] == {"approved": None} for item in body["results"])
    assert len(large) == len(small)


def test_a_page_with_sleepers_and_switches_needs_at_most_five_queries(api, harness, django_assert_max_num_queries):
    for _ in range(5):
        tx_id = start(api, "approval")
        harness.set_switch(tx_id, "other", 1)
    harness.settle()
    api.get(LIST)
    with django_assert_max_num_queries(5):  # the key, the page, its sleepers, their open callbacks, its switches
        body = api.get(LIST).json()
    assert {item["waiting"]["switch"] for item in body["results"]} == {"approved"}


@pytest.mark.parametrize("query, bad", [
    ({"status": "finished"}, "status"),
    ({"status": ","}, "status"),
    ({"waiting_reason": "nap"}, "waiting_reason"),
    ({"created_after": "yesterday"}, "created_after"),
    ({"created_before": "2026-11-23T10:00:00"}, "created_before"),
    ({"expand": "everything"}, "expand"),
    ({"limit": "0"}, "limit"),
    ({"limit": "ten"}, "limit"),
    ({"cursor": "not-a-cursor"}, "cursor"),
    ({"external_id": "x" * 300}, "external_id"),
])
def test_a_bad_filter_value_is_invalid_request_naming_the_field(api, query, bad):
    response = api.get(LIST, query)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_request"
    assert bad in response.json()["extra"]["fields"]


def test_every_bad_filter_is_named_at_once(api):
    response = api.get(LIST, {"status": "nope", "waiting_reason": "nope", "created_after": "nope"})
    assert set(response.json()["extra"]["fields"]) == {"status", "waiting_reason", "created_after"}


def test_a_limit_above_the_cap_is_accepted_and_capped(api):
    start(api)
    response = api.get(LIST, {"limit": "100000"})
    assert response.status_code == 200 and len(response.json()["results"]) == 1


def test_the_list_needs_credentials(anon):
    assert anon.get(LIST).json()["code"] == "not_authenticated"
