"""The status of a waiting transaction names its callbacks' URLs for its owner (issue 17): `waiting.callback_url`
for the callback it awaits and `waiting.callbacks` for every open one, as paths like the API's links; `waiting.url`
stays as its deprecated name. Nobody else reads them, and no log line carries the token."""
import logging

import pytest
from rest_framework.test import APIClient

from engine import tokens
from engine.models import Callback
from engine.selectors import transaction_as_dict, transaction_get
from tests.api.conftest import start
from tests.monitoring.conftest import login, make_user

# A callback made first, then a timer before anything waits on it: the partner must be told meanwhile.
EARLY = {"name": "early", "steps": [
    {"name": "make", "type": "util/callback", "config": {"name": "pay", "timeout": "P1D"}},
    {"name": "make-ship", "type": "util/callback", "config": {"name": "ship"}},
    {"name": "pause", "type": "util/sleep", "config": {"duration": "PT1H"}},
    {"name": "await", "type": "util/await", "config": {"callback": "pay"}},
]}


@pytest.fixture
def awaiting(api, harness):
    tx_id = start(api, "hooked")
    assert harness.run(tx_id).status == "sleeping"
    return tx_id


def test_the_owner_reads_the_path_of_the_awaited_callback_in_waiting(api, anon, awaiting, harness):
    token = harness.callback_token(awaiting)
    waiting = api.get(f"/api/v1/transactions/{awaiting}").json()["waiting"]
    assert waiting["callback_url"] == f"/api/v1/callbacks/{token}" == tokens.url(token)
    assert waiting["callbacks"] == [{"name": "default", "status": "created", "timeout_at": None,
                                     "url": waiting["callback_url"]}]
    assert waiting["url"] == waiting["callback_url"]  # the deprecated name
    assert anon.post(waiting["callback_url"], {"status": "complete"}, format="json").status_code == 200
    assert harness.run(awaiting).status == "success"


def test_the_list_shows_the_same_urls_and_reads_callbacks_in_one_query_for_the_page(
        api, harness, django_assert_max_num_queries):
    first = start(api, "hooked")
    harness.run(first)
    one = api.get("/api/v1/transactions?status=sleeping")
    assert [row["waiting"]["callback_url"] for row in one.json()["results"]] == [
        api.get(f"/api/v1/transactions/{first}").json()["waiting"]["callback_url"]]
    with django_assert_max_num_queries(100) as single:
        api.get("/api/v1/transactions?status=sleeping")
    queries = len(single)  # now: a request's start clears the query log this counts from
    for _ in range(4):
        harness.run(start(api, "hooked"))
    with django_assert_max_num_queries(queries):
        rows = api.get("/api/v1/transactions?status=sleeping").json()["results"]
    assert len({row["waiting"]["callback_url"] for row in rows}) == 5


def test_every_open_callback_is_listed_while_the_transaction_sleeps_on_something_else(api, harness):
    harness.load(EARLY)
    tx_id = start(api, "early")
    harness.settle()
    waiting = api.get(f"/api/v1/transactions/{tx_id}").json()["waiting"]
    assert (waiting["reason"], waiting["callback"], waiting["callback_url"]) == ("timer", None, None)
    urls = {c["name"]: c["url"] for c in waiting["callbacks"]}
    assert urls == {name: tokens.url(harness.callback_token(tx_id, name)) for name in ("pay", "ship")}
    assert [c["timeout_at"] is not None for c in waiting["callbacks"]] == [True, False]
    harness.advance("PT1H")
    waiting = api.get(f"/api/v1/transactions/{tx_id}").json()["waiting"]
    assert (waiting["reason"], waiting["callback_url"]) == ("callback", urls["pay"])


def test_another_owners_key_cannot_read_the_status_or_find_it_in_a_list(other_api, awaiting):
    assert other_api.get(f"/api/v1/transactions/{awaiting}").status_code == 404
    assert other_api.get("/api/v1/transactions?status=sleeping").json()["results"] == []


def test_a_viewer_webhooks_and_in_process_reads_get_names_but_no_url(awaiting, harness):
    viewer = login(make_user("vera", "viewer", [harness.owner]))
    for waiting in (viewer.get(f"/api/v1/transactions/{awaiting}").json()["waiting"],
                    transaction_as_dict(tx=transaction_get(tx_id=awaiting))["waiting"]):
        assert (waiting["callback_url"], waiting["url"]) == (None, None)
        assert [(c["name"], c["url"]) for c in waiting["callbacks"]] == [("default", None)]


def test_a_final_callback_leaves_the_list_and_its_url_is_gone(api, awaiting, harness):
    Callback.objects.filter(tx_id=awaiting).update(status="error")
    waiting = api.get(f"/api/v1/transactions/{awaiting}").json()["waiting"]
    assert (waiting["callback_url"], waiting["callbacks"]) == (None, [])


def test_reading_and_misusing_the_url_logs_no_token(api, anon, awaiting, harness, caplog):
    caplog.set_level(logging.DEBUG)
    token = harness.callback_token(awaiting)
    url = api.get(f"/api/v1/transactions/{awaiting}").json()["waiting"]["callback_url"]
    assert anon.post(url, {"status": "nonsense"}, format="json").status_code == 400
    assert anon.get(url + "x").status_code == 404
    assert caplog.records and token not in caplog.text


def test_the_openapi_schema_describes_the_callback_urls_and_marks_url_deprecated(db):
    document = APIClient().get("/api/schema/?format=json").json()
    waiting = document["components"]["schemas"]["Transaction"]["properties"]["waiting"]["properties"]
    assert waiting["callback_url"] == {"type": "string", "nullable": True}
    item = waiting["callbacks"]["items"]
    assert set(item["properties"]) == set(item["required"]) == {"name", "status", "timeout_at", "url"}
    assert waiting["url"]["deprecated"] is True
