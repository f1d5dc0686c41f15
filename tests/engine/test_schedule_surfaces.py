"""Schedules through engine.client, the datp_schedule command and the Harness: the same services, the same typed
errors, journaled with each surface's actor."""
from datetime import UTC, datetime
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from engine import client
from engine.errors import InvalidRequest, ScheduleNotFound
from engine.models import ScheduleEvent, Transaction
from engine.testing import Harness

REPORT = {"name": "report", "steps": [{"name": "a", "type": "util/echo"}]}


@pytest.fixture
def h(db):
    with Harness(start_at=datetime(2026, 12, 7, tzinfo=UTC)) as harness:
        harness.load(REPORT)
        yield harness


def run(*args):
    out = StringIO()
    call_command("datp_schedule", *args, stdout=out)
    return out.getvalue().strip()


def test_the_harness_fires_the_days_runs_on_advance(h):
    assert h.schedule("nightly", "report", cron="0 2 * * *", timezone="Europe/Paris") == []
    h.advance("P2D")
    runs = h.schedule_runs("nightly")
    assert [due for due, _ in runs] == [datetime(2026, 12, 7, 1, tzinfo=UTC), datetime(2026, 12, 8, 1, tzinfo=UTC)]
    assert [h.result(tx_id).status for _, tx_id in runs] == ["success", "success"]


def test_the_client_creates_reads_pauses_triggers_and_deletes(h):
    created = client.create_schedule(owner="test", name="hourly", transaction_type="report", interval="PT1H",
                                     data={"k": 1}, app="billing")
    assert (created["interval"], created["events"][0]["actor"]) == ("PT1H", "app:billing")
    assert [item["name"] for item in client.list_schedules(owner="test")] == ["hourly"]
    assert client.list_schedules(owner="someone-else") == []
    with pytest.raises(ScheduleNotFound):
        client.get_schedule(owner="someone-else", name="hourly")
    assert client.pause_schedule(owner="test", name="hourly", note="audit")["paused"] is True
    h.advance("PT3H")
    assert client.get_schedule(owner="test", name="hourly")["last_runs"] == []
    client.resume_schedule(owner="test", name="hourly")
    triggered = client.trigger_schedule(owner="test", name="hourly", note="now please")
    assert triggered["action"] == "started"
    assert Transaction.objects.get(pk=triggered["tx_id"]).input == {"k": 1}
    changed = client.update_schedule(owner="test", name="hourly", interval="PT30M", note="twice an hour")
    assert changed["interval"] == "PT30M"
    with pytest.raises(InvalidRequest):
        client.update_schedule(owner="test", name="hourly", interval="soon")
    filled = client.backfill_schedule(owner="test", name="hourly", start="2026-12-07T00:00:00Z",
                                      end="2026-12-07T01:00:00Z")
    assert (filled["due_times"], filled["started"]) == (3, 3)
    client.delete_schedule(owner="test", name="hourly")
    assert client.list_schedules(owner="test") == []


def test_the_command_covers_every_action(h):
    line = run("create", "nightly", "--owner", "test", "--type", "report", "--cron", "0 2 * * *", "--timezone",
               "Europe/Paris", "--data", '{"x": 1}', "--overlap", "allow", "--catchup-window", "PT2H")
    assert line.startswith("nightly  [test]  report  0 2 * * * Europe/Paris  next 2026-12-07T01:00:00")
    assert run("list") == line
    assert '"overlap": "allow"' in run("show", "nightly")
    assert run("pause", "nightly", "--note", "freeze").endswith("paused")
    assert "next" in run("resume", "nightly")
    assert ": started tx-" in run("trigger", "nightly")
    assert run("backfill", "nightly", "--start", "2026-12-01T00:00:00Z", "--end", "2026-12-03T00:00:00Z") == (
        "nightly: 2 due times from 2026-12-01T00:00:00Z to 2026-12-03T00:00:00Z: 2 started, 0 existing, 0 skipped, "
        "0 buffered, 0 failed")
    actors = set(ScheduleEvent.objects.values_list("actor", flat=True))
    assert len(actors) == 1 and actors.pop().startswith("cli")  # created, paused, resumed, triggered, backfilled
    assert run("delete", "nightly") == "nightly: deleted"
    assert run("list") == "No schedules."


@pytest.mark.parametrize(("args", "says"), [
    (("create", "bad", "--owner", "test", "--type", "report", "--cron", "0 2 * *"), "invalid_request: cron"),
    (("create", "bad", "--owner", "test", "--type", "report", "--cron", "0 2 * * *", "--data", "{"), "not JSON"),
    (("create", "bad", "--owner", "test", "--type", "nope", "--cron", "0 2 * * *"), "unknown_transaction_type"),
    (("pause", "nope"), "not_found: No schedule named 'nope'"),
    (("backfill", "nope", "--start", "x", "--end", "y"), "invalid_request: start"),
])
def test_the_command_prints_typed_errors(h, args, says):
    with pytest.raises(CommandError, match=says):
        run(*args)
