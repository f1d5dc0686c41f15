"""POST /api/v1/transactions/batch and engine.client.start_many: one result per item in order, a bad item
refused alone, idempotency per external id, the limits, the caller's owner and role, and the statements
a batch costs."""
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from engine import client
from engine.errors import InvalidRequest
from engine.limits import BULK_START_MAX
from engine.models import JournalEntry, Transaction
from engine.services import start_many
from tests.api.conftest import start
from tests.monitoring.conftest import login, make_user

BATCH = "/api/v1/transactions/batch"


def post(api, items):
    return api.post(BATCH, {"transactions": items}, format="json")


def ok(api, items):
    response = post(api, items)
    assert response.status_code == 200, response.json()
    return response.json()


def test_every_valid_item_is_created_in_order_and_runs(api, harness):
    body = ok(api, [{"transaction_type": "echo", "data": {"n": n}, "metadata": {"m": n}} for n in range(3)]
              + [{"transaction_type": "failing"}])
    assert (body["created"], body["replayed"], body["failed"]) == (4, 0, 0)
    assert [r["index"] for r in body["results"]] == [0, 1, 2, 3]
    assert {r["status"] for r in body["results"]} == {201}
    ids = [r["transaction"]["tx_id"] for r in body["results"]]
    first = body["results"][0]["transaction"]
    assert first["status"] == "queued" and first["links"]["self"] == f"/api/v1/transactions/{ids[0]}"
    assert first["owner"] == harness.owner and first["transaction_type"] == "echo" and "input" not in first
    assert [Transaction.objects.get(pk=tx_id).input for tx_id in ids[:3]] == [{"n": 0}, {"n": 1}, {"n": 2}]
    assert JournalEntry.objects.filter(tx_id__in=ids, kind="created", actor="api-key:myapp").count() == 4
    harness.settle()
    assert [harness.result(tx_id).status for tx_id in ids] == ["success"] * 3 + ["failed"]
    assert harness.result(ids[1]).data == {"n": 1}


def test_a_bad_item_gets_the_error_a_lone_start_would_and_stops_no_other(api, harness):
    items = [
        {"transaction_type": "echo", "data": {"ok": 1}},
        {"transaction_type": "ecoh"},
        {"transaction_type": "echo", "deadline": "soon"},
        {"transaction_type": "echo", "data": [1]},
        {"data": {}},
        "echo",
        {"transaction_type": "echo", "wait": "PT5S"},
        {"transaction_type": "echo", "data": {"text": "a\u0000b"}},
        {"transaction_type": "echo", "webhook": "ftp://example.com/"},
        {"transaction_type": "helper"},
        {"transaction_type": "echo", "data": {"ok": 2}},
    ]
    body = ok(api, items)
    assert (body["created"], body["replayed"], body["failed"]) == (2, 0, 9)
    results = body["results"]
    for index, item in enumerate(items[1:-1], start=1):
        if isinstance(item, dict) and "wait" not in item and "\u0000" not in str(item.get("data")):
            lone = api.post("/api/v1/transactions", item, format="json")
            assert (results[index]["status"], results[index]["error"]) == (lone.status_code, lone.json()), index
    codes = [(r["status"], r.get("error", {}).get("code")) for r in results]
    assert codes == [(201, None)] + [(400, "unknown_transaction_type")] + [(400, "invalid_request")] * 7 + [
        (400, "unknown_transaction_type"), (201, None)]
    assert results[1]["error"]["message"] == "No transaction type named 'ecoh'. Did you mean `echo`?"
    assert list(results[2]["error"]["extra"]["fields"]) == ["deadline"]
    assert results[5]["error"]["extra"]["fields"] == {"body": ["Must be a JSON object."]}
    assert list(results[6]["error"]["extra"]["fields"]) == ["wait"]
    assert list(results[7]["error"]["extra"]["fields"]) == ["data"]
    assert "transaction" not in results[1] and "error" not in results[0]
    good = [results[0]["transaction"]["tx_id"], results[10]["transaction"]["tx_id"]]
    assert sorted(Transaction.objects.values_list("pk", flat=True)) == sorted(good)
    assert JournalEntry.objects.exclude(tx_id__in=good).count() == 0
    harness.settle()
    assert [harness.result(tx_id).data for tx_id in good] == [{"ok": 1}, {"ok": 2}]


def test_sending_the_same_batch_again_replays_each_item_and_writes_nothing(api):
    items = [{"transaction_type": "echo", "external_id": f"order-{n}", "data": {"n": n}} for n in range(5)]
    items.append({"transaction_type": "echo"})  # no external id: a new one each time, as a lone start
    first = ok(api, items)
    again = ok(api, [{**item, "metadata": {"retry": True}} for item in items])
    assert (again["created"], again["replayed"], again["failed"]) == (1, 5, 0)
    assert [r["status"] for r in again["results"]] == [200] * 5 + [201]
    assert [r["transaction"]["tx_id"] for r in again["results"][:5]] == [
        r["transaction"]["tx_id"] for r in first["results"][:5]]
    assert Transaction.objects.count() == 7
    lone = api.post("/api/v1/transactions", items[2], format="json")
    assert lone.status_code == 200 and lone.json()["tx_id"] == first["results"][2]["transaction"]["tx_id"]


def test_an_external_id_held_with_other_data_is_a_409_naming_its_holder(api):
    holder = start(api, external_id="order-1", data={"n": 1})
    body = ok(api, [{"transaction_type": "echo", "external_id": "order-1", "data": {"n": 2}},
                    {"transaction_type": "nap", "external_id": "order-1", "data": {"n": 1}},
                    {"transaction_type": "echo", "external_id": "order-1", "data": {"n": 1}}])
    assert [r["status"] for r in body["results"]] == [409, 409, 200]
    assert body["results"][0]["error"] == {"code": "duplicate_external_id", "message": (
        "A transaction with this external id already exists."), "extra": {"tx_id": holder}}
    assert body["results"][2]["transaction"]["tx_id"] == holder
    assert Transaction.objects.count() == 1


def test_an_external_id_twice_in_one_batch_is_created_by_the_first_and_replayed_or_refused_by_the_next(api):
    body = ok(api, [{"transaction_type": "echo", "external_id": "a", "deadline": "bad"},  # refused: not a holder
                    {"transaction_type": "echo", "external_id": "a", "data": {"x": 1}},
                    {"transaction_type": "echo", "external_id": "a", "data": {"x": 1}, "metadata": {"y": 2}},
                    {"transaction_type": "echo", "external_id": "a", "data": {"x": 2}}])
    assert [r["status"] for r in body["results"]] == [400, 201, 200, 409]
    created = body["results"][1]["transaction"]
    assert body["results"][2]["transaction"] == created
    assert body["results"][3]["error"]["extra"] == {"tx_id": created["tx_id"]}
    assert (body["created"], body["replayed"], body["failed"]) == (1, 1, 2)
    assert list(Transaction.objects.values_list("pk", "metadata")) == [(created["tx_id"], {})]


def test_a_start_that_takes_an_external_id_during_the_batch_makes_it_a_replay(api, harness, monkeypatch):
    """The holder is inserted after the batch read the external ids: the insert clashes, the batch plans again."""
    holders = start_many._holders

    def late(owner, external_ids):
        if not Transaction.objects.filter(external_id="late").exists():
            harness.start("echo", {"n": 1}, external_id="late")
            return {}
        return holders(owner, external_ids)

    monkeypatch.setattr(start_many, "_holders", late)
    body = ok(api, [{"transaction_type": "echo", "data": {"n": 0}},
                    {"transaction_type": "echo", "external_id": "late", "data": {"n": 1}}])
    assert [r["status"] for r in body["results"]] == [201, 200]
    assert Transaction.objects.count() == 2


@pytest.mark.parametrize("transactions, problem", [
    ([], "Must be a list of 1 to 1000 transactions."),
    ([{"transaction_type": "echo"}] * (BULK_START_MAX + 1), "Must be a list of 1 to 1000 transactions."),
    ({"transaction_type": "echo"}, "Must be a list of 1 to 1000 transactions."),
    (None, "Must be a list of 1 to 1000 transactions."),
])
def test_a_batch_of_no_items_or_too_many_is_refused_whole_naming_the_limit(api, transactions, problem):
    response = api.post(BATCH, {"transactions": transactions}, format="json")
    assert (response.status_code, response.json()["code"]) == (400, "invalid_request")
    assert response.json()["extra"] == {"fields": {"transactions": [problem]}, "max_items": BULK_START_MAX}
    assert Transaction.objects.count() == 0


def test_a_body_without_transactions_or_with_bad_bytes_outside_them_is_refused_whole(api):
    response = api.post(BATCH, {}, format="json")
    assert response.json()["extra"]["fields"] == {"transactions": ["This field is required."]}
    response = api.post(BATCH, {"transactions": [{"transaction_type": "echo"}], "note": "a\u0000"}, format="json")
    assert (response.status_code, response.json()["extra"]["fields"]) == (400, {"note": [
        "Must not hold NUL characters or lone surrogates."]})
    response = api.post(BATCH, "[]", content_type="application/json")
    assert response.status_code == 400
    assert Transaction.objects.count() == 0


def test_the_caller_must_be_authenticated_and_may_write(anon, api, harness):
    response = post(anon, [{"transaction_type": "echo"}])
    assert (response.status_code, response.json()["code"]) == (401, "not_authenticated")
    viewer = login(make_user("vera", "viewer", [harness.owner]))
    response = viewer.post(BATCH, {"transactions": [{"transaction_type": "echo"}]}, content_type="application/json")
    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")
    operator = login(make_user("otto", "operator", [harness.owner]))
    response = operator.post(BATCH, {"transactions": [{"transaction_type": "echo"}]}, content_type="application/json")
    assert response.status_code == 200 and response.json()["results"][0]["transaction"]["owner"] == harness.owner
    assert JournalEntry.objects.get(kind="created").actor == "user:otto"


def test_external_ids_are_per_owner(api, other_api):
    mine = ok(api, [{"transaction_type": "echo", "external_id": "order-1"}])["results"][0]
    theirs = ok(other_api, [{"transaction_type": "echo", "external_id": "order-1", "data": {"other": 1}}])
    assert theirs["results"][0]["status"] == 201
    assert theirs["results"][0]["transaction"]["owner"] == "other"
    assert theirs["results"][0]["transaction"]["tx_id"] != mine["transaction"]["tx_id"]


def test_a_thousand_items_cost_a_bounded_number_of_statements_and_one_notice_per_node_group(
        api, harness, monkeypatch):
    harness.load({"name": "elsewhere", "node_group": "second", "steps": [{"name": "echo", "type": "util/echo"}]})
    notices = []
    monkeypatch.setattr("engine.runtime.dispatch.notices.notify_work", notices.append)
    items = [{"transaction_type": "echo" if n % 2 else "elsewhere", "external_id": f"e-{n}", "data": {"n": n},
              "deadline": "P1D", "webhook": "https://example.com/hook"} for n in range(BULK_START_MAX)]
    with CaptureQueriesContext(connection) as queries:
        body = ok(api, items)
    assert body["created"] == BULK_START_MAX
    # On SQLite Django splits an insert of many columns into batches of 999 parameters (about 30 rows).
    assert len(queries) < (20 if connection.vendor == "postgresql" else 60), [q["sql"][:80] for q in queries]
    assert sorted(notices) == ["master", "second"]
    assert Transaction.objects.filter(node_group_id="second").count() == BULK_START_MAX // 2
    harness.settle()
    assert Transaction.objects.filter(status="success").count() == BULK_START_MAX


def test_the_client_starts_many_with_the_same_results(harness, api):
    holder = harness.start("echo", {"n": 1}, external_id="held")
    reply = client.start_many(owner=harness.owner, app="shop", transactions=[
        {"transaction_type": "echo", "data": {"n": 0}},
        {"transaction_type": "echo", "external_id": "held", "data": {"n": 1}},
        {"transaction_type": "nope"},
        {"transaction_type": "echo", "wait": "PT1S"},
    ])
    assert [r["status"] for r in reply["results"]] == [201, 200, 400, 400]
    assert reply["results"][1]["transaction"]["tx_id"] == holder
    assert reply["results"][2]["error"]["code"] == "unknown_transaction_type"
    assert reply["results"][3]["error"]["extra"] == {"fields": {"wait": ["Unknown field."]}}
    tx_id = reply["results"][0]["transaction"]["tx_id"]
    assert JournalEntry.objects.get(tx_id=tx_id, kind="created").actor == "app:shop"
    with pytest.raises(InvalidRequest):
        client.start_many(owner=harness.owner, transactions=[])
    assert harness.run(tx_id).status == "success"
