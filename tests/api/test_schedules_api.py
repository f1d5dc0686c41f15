"""/api/v1/schedules: create, list, get, update, delete, pause, resume, trigger and backfill, owner-scoped, with
typed errors that change nothing; the runs a schedule starts are transactions like any other."""
from datetime import timedelta

import pytest

from engine.models import Schedule, ScheduleEvent, Transaction

NIGHTLY = {"name": "nightly", "transaction_type": "echo", "cron": "0 2 * * *", "timezone": "Europe/Paris",
           "data": {"report": "daily"}}


def create(api, **changes):
    return api.post("/api/v1/schedules", {**NIGHTLY, **changes}, format="json")


def test_create_answers_201_with_the_next_runs_and_a_location(api, harness):
    answer = create(api)
    assert answer.status_code == 201, answer.json()
    body = answer.json()
    assert answer["Location"] == "/api/v1/schedules/nightly" == body["links"]["self"]
    assert (body["owner"], body["overlap"], body["catchup_window"], body["paused"]) == ("test", "skip", "PT1H", False)
    assert len(body["next_runs"]) == 5 and body["next_runs"][0]["due_at"] == body["next_due_at"]
    assert body["next_due_at"].endswith("T01:00:00Z")  # 02:00 in Paris in winter
    assert [event["kind"] for event in body["events"]] == ["created"]
    assert body["events"][0]["actor"] == "api-key:myapp"


def test_its_runs_start_at_their_due_times_and_show_with_their_statuses(api, harness):
    create(api, cron="*/30 * * * *", timezone="UTC")
    harness.advance("PT1H")
    body = api.get("/api/v1/schedules/nightly").json()
    assert [(run["cause"], run["status"]) for run in body["last_runs"]] == [("due", "success")] * 2
    tx_id = body["last_runs"][0]["tx_id"]
    tx = api.get(f"/api/v1/transactions/{tx_id}").json()
    assert tx["external_id"] == f"schedule:nightly:{body['last_runs'][0]['due_at'].replace('.000', '')}"
    assert (tx["transaction_type"], tx["status"]) == ("echo", "success")


@pytest.mark.parametrize(("changes", "field"), [
    ({"cron": "0 25 * * *"}, "cron"),
    ({"timezone": "Europe/Pariss"}, "timezone"),
    ({"cron": None}, "cron"),
    ({"interval": "PT1H"}, "cron"),
    ({"overlap": "queue_all"}, "overlap"),
    ({"catchup_window": "an hour"}, "catchup_window"),
    ({"jitter": "P2D"}, "jitter"),
    ({"start_at": "2026-13-01"}, "start_at"),
    ({"data": "x"}, "data"),
    ({"name": "Has Spaces"}, "name"),
    ({"name": None}, "name"),
    ({"paused": "yes"}, "paused"),
    ({"overlap_policy": "skip"}, "overlap_policy"),
])
def test_a_bad_field_is_a_400_naming_it_and_creates_nothing(api, changes, field):
    answer = create(api, **changes)
    assert answer.status_code == 400, answer.json()
    error = answer.json()
    assert error["code"] == "invalid_request" and field in error["extra"]["fields"], error
    assert not Schedule.objects.exists()


def test_an_unknown_type_a_taken_name_and_a_missing_schedule(api):
    answer = create(api, transaction_type="ecko")
    assert (answer.status_code, answer.json()["code"]) == (400, "unknown_transaction_type")
    assert "Did you mean" in answer.json()["message"]
    assert create(api).status_code == 201
    taken = create(api)
    assert (taken.status_code, taken.json()["code"]) == (409, "schedule_exists")
    for method, path in (("get", "/api/v1/schedules/nope"), ("patch", "/api/v1/schedules/nope"),
                         ("delete", "/api/v1/schedules/nope"), ("post", "/api/v1/schedules/nope/pause"),
                         ("post", "/api/v1/schedules/nope/trigger")):
        answer = getattr(api, method)(path, {}, format="json")
        assert (answer.status_code, answer.json()["code"]) == (404, "not_found"), (method, path)


def test_schedules_belong_to_their_owner(api, other_api):
    create(api)
    assert other_api.get("/api/v1/schedules").json() == {"results": []}
    assert other_api.get("/api/v1/schedules/nightly").status_code == 404
    assert other_api.post("/api/v1/schedules/nightly/trigger", {}, format="json").status_code == 404
    assert other_api.delete("/api/v1/schedules/nightly").status_code == 404
    assert [item["name"] for item in api.get("/api/v1/schedules").json()["results"]] == ["nightly"]


def test_update_changes_the_calendar_and_plans_again(api):
    create(api)
    answer = api.patch("/api/v1/schedules/nightly", {"interval": "PT15M", "note": "more often"}, format="json")
    assert answer.status_code == 200, answer.json()
    body = answer.json()
    assert (body["cron"], body["interval"]) == (None, "PT15M")
    assert body["events"][0]["kind"] == "updated" and body["events"][0]["note"] == "more often"
    bad = api.patch("/api/v1/schedules/nightly", {"timezone": "Nowhere/Else"}, format="json")
    assert bad.status_code == 400 and "timezone" in bad.json()["extra"]["fields"]
    assert Schedule.objects.get(name="nightly").timezone == "Europe/Paris"


def test_pause_and_resume_with_notes(api, harness):
    create(api, cron="*/10 * * * *")
    paused = api.post("/api/v1/schedules/nightly/pause", {"note": "partner down"}, format="json").json()
    assert (paused["paused"], paused["note"], paused["next_runs"]) == (True, "partner down", paused["next_runs"])
    harness.advance("PT1H")
    assert not Transaction.objects.exists()
    resumed = api.post("/api/v1/schedules/nightly/resume", {"note": "partner back"}, format="json").json()
    assert (resumed["paused"], resumed["note"]) == (False, "partner back")
    assert [event["kind"] for event in resumed["events"][:2]] == ["resumed", "paused"]


def test_trigger_runs_now_and_backfill_runs_a_past_range(api, harness):
    create(api, cron="0 * * * *", timezone="UTC", start_at=(harness.now() - timedelta(days=1)).isoformat())
    triggered = api.post("/api/v1/schedules/nightly/trigger", {"note": "by hand"}, format="json").json()
    assert triggered["action"] == "started" and Transaction.objects.filter(pk=triggered["tx_id"]).exists()
    start = (harness.now() - timedelta(hours=5)).replace(minute=0, second=0, microsecond=0)
    end = start + timedelta(hours=2)
    body = {"start": start.isoformat(), "end": end.isoformat()}
    filled = api.post("/api/v1/schedules/nightly/backfill", body, format="json").json()
    assert (filled["due_times"], filled["started"], filled["existing"]) == (3, 3, 0)
    again = api.post("/api/v1/schedules/nightly/backfill", body, format="json").json()
    assert (again["started"], again["existing"]) == (0, 3)
    future = api.post("/api/v1/schedules/nightly/backfill", {"start": start.isoformat(),
                                                             "end": (harness.now() + timedelta(hours=1)).isoformat()},
                      format="json")
    assert future.status_code == 400 and "end" in future.json()["extra"]["fields"]
    assert ScheduleEvent.objects.filter(kind="backfilled").count() == 2


def test_delete_keeps_the_transactions(api, harness):
    create(api, cron="*/30 * * * *")
    harness.advance("PT1H")
    assert api.delete("/api/v1/schedules/nightly").status_code == 204
    assert not Schedule.objects.exists() and Transaction.objects.count() == 2
