"""Schedules (engine.services.schedules) driven by the Harness's clock: due runs start once each, under every
overlap policy, with catch-up after downtime, pause and resume, trigger, backfill and an end; bad fields are
typed refusals that change nothing."""
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from engine import clock
from engine.errors import (
    InvalidRequest,
    ScheduleExists,
    ScheduleNotFound,
    UnknownTransactionType,
)
from engine.models import Schedule, ScheduleEvent, ScheduleRun, Transaction
from engine.services import schedule_fire, schedules
from engine.testing import Harness

TICK = {"name": "tick", "steps": [{"name": "a", "type": "util/echo"}]}
NAP = {"name": "nap", "steps": [{"name": "nap", "type": "util/sleep", "config": {"duration": "PT1H30M"}}]}
LONG_NAP = {"name": "long-nap", "steps": [{"name": "nap", "type": "util/sleep", "config": {"duration": "PT2H30M"}}]}
MONDAY = datetime(2026, 12, 7, 0, 0, tzinfo=UTC)


@pytest.fixture
def h(db):
    with Harness(start_at=MONDAY) as harness:
        harness.load(TICK, NAP, LONG_NAP)
        yield harness


def create(h, name="every", **fields):
    fields.setdefault("transaction_type", "tick")
    if "interval" not in fields:
        fields.setdefault("cron", "0 * * * *")
    return schedules.schedule_create(owner=h.owner, name=name, actor="app:test", **fields)


def runs(name):
    return list(ScheduleRun.objects.filter(schedule__name=name).order_by("due_at").values_list("due_at", "cause"))


def events(name, *kinds):
    found = ScheduleEvent.objects.filter(schedule__name=name).order_by("at", "pk")
    if kinds:
        found = found.filter(kind__in=kinds)
    return [(event.kind, event.due_at, event.data) for event in found]


def statuses(name):
    ids = ScheduleRun.objects.filter(schedule__name=name).order_by("due_at").values_list("tx_id", flat=True)
    found = dict(Transaction.objects.filter(pk__in=list(ids)).values_list("pk", "status"))
    return [found[tx_id] for tx_id in ids]


def hours(*values):
    return [MONDAY + timedelta(hours=value) for value in values]


def test_advancing_a_day_fires_each_run_of_the_day_once_at_its_time_in_the_zone(h):
    create(h, "paris", cron="0 */6 * * *", timezone="Europe/Paris", data={"hello": "world"})
    h.advance("P1D")
    # 00:00, 06:00, 12:00, 18:00 in Paris (CET, UTC+1), the first one at 23:00Z on Monday
    assert [due for due, _ in runs("paris")] == hours(5, 11, 17, 23)
    assert {cause for _, cause in runs("paris")} == {"due"}
    txs = Transaction.objects.filter(external_id__startswith="schedule:paris:").order_by("created_at")
    assert [tx.external_id for tx in txs] == ["schedule:paris:2026-12-07T05:00:00Z", "schedule:paris:2026-12-07T11:00:00Z",
                                              "schedule:paris:2026-12-07T17:00:00Z", "schedule:paris:2026-12-07T23:00:00Z"]
    assert [tx.created_at for tx in txs] == hours(5, 11, 17, 23)  # started at the due time, not late
    assert {tx.status for tx in txs} == {"success"} and txs[0].input == {"hello": "world"}
    assert Schedule.objects.get(name="paris").next_due_at == hours(29)[0]


def test_looking_again_or_after_the_clock_goes_back_never_starts_a_due_time_twice(h):
    create(h)
    h.advance("PT3H")
    assert len(runs("every")) == 3
    Schedule.objects.filter(name="every").update(look_at=clock.now() - timedelta(hours=5),
                                                 next_due_at=MONDAY + timedelta(hours=1))  # as a restored backup
    assert schedules.schedules_fire(now=clock.now()) == 0
    assert schedules.schedules_fire(now=clock.now()) == 0
    assert len(runs("every")) == 3 and Transaction.objects.count() == 3
    assert Schedule.objects.get(name="every").next_due_at == hours(4)[0]


def test_overlap_skip_starts_nothing_while_a_run_is_active(h):
    create(h, "skip", transaction_type="nap", overlap="skip")
    h.advance("PT4H")  # each run sleeps 90 minutes: 2 is skipped (1 is active), 3 starts (1 ended), 4 is skipped
    assert [due for due, _ in runs("skip")] == hours(1, 3)
    assert [(kind, due) for kind, due, _ in events("skip", "skipped")] == [("skipped", hours(2)[0]),
                                                                             ("skipped", hours(4)[0])]


def test_overlap_buffer_one_holds_one_run_until_the_active_one_ends(h):
    create(h, "buffer", transaction_type="long-nap", overlap="buffer_one")
    h.advance("PT3H45M")
    # 1 runs until 3:30; 2 is held (buffered), 3 is skipped (the buffer holds 2); 2 starts when 1 ends
    assert [(kind, due) for kind, due, _ in events("buffer", "buffered", "skipped")] == [
        ("buffered", hours(2)[0]), ("skipped", hours(3)[0])]
    assert runs("buffer") == [(hours(1)[0], "due"), (hours(2)[0], "buffer")]
    started = ScheduleRun.objects.get(schedule__name="buffer", due_at=hours(2)[0])
    assert timedelta(0) < started.started_at - hours(3.5)[0] <= schedule_fire.BUFFER_LOOK[1]  # looked at again soon
    assert statuses("buffer") == ["success", "sleeping"]


def test_overlap_allow_starts_every_run(h):
    create(h, "allow", transaction_type="nap", overlap="allow")
    h.advance("PT3H")
    assert [due for due, _ in runs("allow")] == hours(1, 2, 3)
    assert statuses("allow") == ["success", "sleeping", "sleeping"]


def test_overlap_cancel_previous_cancels_the_active_run_then_starts(h):
    create(h, "cancel", transaction_type="nap", overlap="cancel_previous")
    h.advance("PT2H")
    assert statuses("cancel") == ["cancelled", "sleeping"]
    [(_, due, data)] = events("cancel", "cancelled_previous")
    first = ScheduleRun.objects.get(schedule__name="cancel", due_at=hours(1)[0]).tx_id
    assert (due, data["tx_ids"]) == (hours(2)[0], [first])


def test_after_downtime_the_runs_inside_the_catch_up_window_start_once_each_and_older_ones_are_missed(h):
    create(h, "quarter", interval="PT15M", catchup_window="PT1H", overlap="allow")  # skip would skip all but one
    h.clock.move_to(MONDAY + timedelta(hours=3, minutes=5))  # no node ran for three hours
    h.settle()
    dues = [due for due, _ in runs("quarter")]
    assert dues == [MONDAY + timedelta(hours=2, minutes=15 * n) for n in range(1, 5)]  # 02:15 .. 03:00
    assert {cause for _, cause in runs("quarter")[:-1]} == {"catch_up"}
    [(_, due, data)] = events("quarter", "missed")
    assert (due, data["count"], data["last"], data["more"]) == (MONDAY + timedelta(minutes=15), 8,
                                                                "2026-12-07T02:00:00Z", False)
    h.advance("PT10M")
    assert runs("quarter")[-1] == (MONDAY + timedelta(hours=3, minutes=15), "due")


def test_a_long_outage_of_a_frequent_schedule_is_one_missed_event(h):
    create(h, "second", cron="* * * * * *", catchup_window="PT2S", overlap="allow")  # every second
    h.clock.move_to(MONDAY + timedelta(hours=2))
    h.settle()
    [(_, _, data)] = events("second", "missed")
    assert data["count"] == 1000 and data["more"] is True
    assert [due for due, _ in runs("second")] == [MONDAY + timedelta(hours=2, seconds=-s) for s in (2, 1, 0)]


def test_a_paused_schedule_starts_nothing_and_resumes_from_now_without_catching_up(h):
    create(h)
    schedules.schedule_pause(name="every", actor="user:ops", note="maintenance window")
    h.advance("PT5H30M")
    assert runs("every") == []
    paused = Schedule.objects.get(name="every")
    assert (paused.paused, paused.note, paused.look_at) == (True, "maintenance window", None)
    schedules.schedule_resume(name="every", actor="user:ops", note="done")
    h.advance("PT1H")
    assert [due for due, _ in runs("every")] == hours(6)
    assert [(kind, data) for kind, _, data in events("every", "paused", "resumed")] == [("paused", {}), ("resumed", {})]
    assert ScheduleEvent.objects.get(schedule__name="every", kind="paused").actor == "user:ops"


def test_trigger_starts_a_run_now_under_the_overlap_policy(h):
    create(h, "manual", transaction_type="nap", cron="0 0 1 1 *")
    h.advance("PT10M")
    first = schedules.schedule_trigger(name="manual", actor="user:ops")
    assert first["action"] == "started" and first["due_at"] == "2026-12-07T00:10:00Z"
    h.advance("PT1M")
    second = schedules.schedule_trigger(name="manual", actor="user:ops")
    assert second["action"] == "skipped" and first["tx_id"] in second["note"]
    assert [cause for _, cause in runs("manual")] == ["trigger"]


def test_backfill_starts_each_past_due_time_once(h):
    create(h, "back", start_at="2026-12-01T00:00:00Z", cron="0 12 * * *")
    result = schedules.schedule_backfill(name="back", start="2026-12-01T00:00:00Z", end="2026-12-04T12:00:00Z",
                                         actor="user:ops")
    assert (result["due_times"], result["started"], result["existing"]) == (4, 4, 0)
    again = schedules.schedule_backfill(name="back", start="2026-12-03T00:00:00Z", end="2026-12-06T12:00:00Z",
                                        actor="user:ops")
    assert (again["due_times"], again["started"], again["existing"]) == (4, 2, 2)
    assert [cause for _, cause in runs("back")] == ["backfill"] * 6
    h.settle()
    assert set(statuses("back")) == {"success"}


def test_backfill_refusals_change_nothing(h):
    create(h, "back", cron="* * * * *")
    for start, end, field in (("2026-12-06T00:00:00Z", "2026-12-07T00:00:00Z", "end"),  # 1,441 due times
                              ("2026-12-06T00:00:00Z", "2026-12-08T00:00:00Z", "end"),  # in the future
                              ("2026-12-06T00:00:00Z", "2026-12-05T00:00:00Z", "end"),
                              ("yesterday", "2026-12-06T00:00:00Z", "start")):
        with pytest.raises(InvalidRequest) as refused:
            schedules.schedule_backfill(name="back", start=start, end=end, actor="user:ops")
        assert field in refused.value.extra["fields"]
    assert runs("back") == [] and events("back", "backfilled") == []


def test_an_end_stops_the_schedule_with_an_event(h):
    create(h, "short", end_at="2026-12-07T02:30:00Z")
    h.advance("PT5H")
    assert [due for due, _ in runs("short")] == hours(1, 2)
    schedule = Schedule.objects.get(name="short")
    assert (schedule.next_due_at, schedule.look_at) == (None, None)
    assert [kind for kind, _, _ in events("short", "ended")] == ["ended"]


def test_jitter_delays_the_start_but_not_the_due_time(h):
    create(h, "jittery", cron="0 * * * *", jitter="PT10M")
    h.advance("PT3H")
    started = ScheduleRun.objects.filter(schedule__name="jittery").order_by("due_at")
    assert [run.due_at for run in started] == hours(1, 2, 3)[: len(started)]
    delays = [run.started_at - run.due_at for run in started]
    assert all(timedelta(0) <= delay <= timedelta(minutes=10) for delay in delays) and len(set(delays)) > 1


def test_an_update_plans_again_from_now(h):
    create(h)
    h.advance("PT1H30M")
    schedules.schedule_update(name="every", actor="user:ops", cron=None, interval="PT10M")
    h.advance("PT20M")
    assert [due for due, _ in runs("every")] == [hours(1)[0], MONDAY + timedelta(hours=1, minutes=40),
                                                 MONDAY + timedelta(hours=1, minutes=50)]
    assert Schedule.objects.get(name="every").cron is None


@pytest.mark.parametrize(("fields", "named"), [
    ({"cron": "61 * * * *"}, "cron"),
    ({"cron": None, "interval": None}, "cron"),
    ({"cron": "0 * * * *", "interval": "PT1H"}, "cron"),
    ({"timezone": "Europe/Pariss"}, "timezone"),
    ({"overlap": "queue"}, "overlap"),
    ({"catchup_window": "soon"}, "catchup_window"),
    ({"jitter": "P3D"}, "jitter"),
    ({"start_at": "tomorrow"}, "start_at"),
    ({"start_at": "2026-12-09T00:00:00Z", "end_at": "2026-12-08T00:00:00Z"}, "end_at"),
    ({"data": [1, 2]}, "data"),
])
def test_bad_fields_are_a_400_naming_the_field_and_create_nothing(h, fields, named):
    with pytest.raises(InvalidRequest) as refused:
        create(h, "bad", **fields)
    assert named in refused.value.extra["fields"], refused.value.extra
    assert not Schedule.objects.filter(name="bad").exists()


def test_names_types_and_missing_schedules_are_typed_errors(h):
    with pytest.raises(InvalidRequest):
        create(h, "Not A Name")
    with pytest.raises(UnknownTransactionType, match="Did you mean"):
        create(h, "typo", transaction_type="tik")
    create(h, "taken")
    with pytest.raises(ScheduleExists):
        create(h, "taken")
    with pytest.raises(ScheduleNotFound):
        schedules.schedule_pause(name="nope", actor="user:ops")
    assert list(Schedule.objects.values_list("name", flat=True)) == ["taken"]


def test_deleting_a_schedule_keeps_its_transactions(h):
    create(h)
    h.advance("PT2H")
    schedules.schedule_delete(name="every", actor="user:ops")
    h.advance("PT2H")
    assert not Schedule.objects.exists() and Transaction.objects.count() == 2


def test_fifty_schedules_due_together_start_in_a_few_statements(h):
    for index in range(50):
        create(h, f"s{index:02d}", overlap="allow")
    h.clock.move_to(hours(1)[0])
    with CaptureQueriesContext(connection) as queries:
        assert schedule_fire.schedules_fire(now=clock.now()) == 50
    assert len(queries) <= 14, [query["sql"][:80] for query in queries]  # was about 500, one look each
    assert ScheduleRun.objects.count() == Transaction.objects.count() == 50
    assert set(Transaction.objects.values_list("external_id", flat=True)) == {
        f"schedule:s{index:02d}:2026-12-07T01:00:00Z" for index in range(50)}


def test_cancel_previous_during_a_catch_up_starts_only_the_newest_due_time(h):
    create(h, "newest", transaction_type="nap", overlap="cancel_previous", catchup_window="PT3H")
    h.clock.move_to(MONDAY + timedelta(hours=3, minutes=1))  # 01:00, 02:00 and 03:00 due at once
    h.settle()
    assert runs("newest") == [(hours(3)[0], "due")]
    assert [(kind, due) for kind, due, _ in events("newest", "skipped")] == [("skipped", hours(1)[0]),
                                                                              ("skipped", hours(2)[0])]
