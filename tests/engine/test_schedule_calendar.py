"""A schedule's calendar (engine.schedules): cron read in a time zone across daylight-saving changes in two
zones, intervals in real and wall-clock time, start and end, jitter, and the typed refusals of bad fields."""
from datetime import UTC, datetime, timedelta

import pytest

from engine.schedules import (
    BadSchedule,
    Calendar,
    check_cron,
    check_interval,
    check_jitter,
    check_window,
    external_id,
    jitter_of,
    zone,
)


def utc(*parts):
    return datetime(*parts, tzinfo=UTC)


def dues(calendar, after, until):
    return calendar.due_between(after, until)


def test_a_nightly_cron_in_paris_runs_once_at_the_first_minute_after_the_spring_gap():
    nightly = Calendar(cron="30 2 * * *", interval=None, timezone="Europe/Paris")
    # 2026-03-29: the clocks go from 02:00 CET to 03:00 CEST; 02:30 does not exist that night
    assert dues(nightly, utc(2026, 3, 27), utc(2026, 3, 31)) == [
        utc(2026, 3, 27, 1, 30), utc(2026, 3, 28, 1, 30),  # 02:30 CET
        utc(2026, 3, 29, 1, 0),  # 03:00 CEST, once
        utc(2026, 3, 30, 0, 30)]  # 02:30 CEST


def test_a_nightly_cron_in_paris_runs_once_when_the_clocks_go_back():
    nightly = Calendar(cron="30 2 * * *", interval=None, timezone="Europe/Paris")
    # 2026-10-25: 02:30 happens twice (CEST, then CET); it runs the first time only
    assert dues(nightly, utc(2026, 10, 24), utc(2026, 10, 27)) == [
        utc(2026, 10, 24, 0, 30), utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)]


def test_new_york_fall_back_and_spring_forward():
    early = Calendar(cron="30 1 * * *", interval=None, timezone="America/New_York")
    # 2026-11-01: 01:30 happens at 05:30Z (EDT) and at 06:30Z (EST): once, the first time
    assert dues(early, utc(2026, 10, 31, 12), utc(2026, 11, 2, 12)) == [utc(2026, 11, 1, 5, 30), utc(2026, 11, 2, 6, 30)]
    gap = Calendar(cron="30 2 * * *", interval=None, timezone="America/New_York")
    # 2026-03-08: 02:00 EST jumps to 03:00 EDT; 02:30 runs at 03:00 EDT (07:00Z)
    assert dues(gap, utc(2026, 3, 7, 12), utc(2026, 3, 9, 12)) == [utc(2026, 3, 8, 7, 0), utc(2026, 3, 9, 6, 30)]


def test_an_hourly_cron_runs_every_real_hour_across_both_changes():
    hourly = Calendar(cron="0 * * * *", interval=None, timezone="Europe/Paris")
    spring = dues(hourly, utc(2026, 3, 28, 23, 30), utc(2026, 3, 29, 3, 30))
    assert spring == [utc(2026, 3, 29, hour) for hour in range(4)]
    autumn = dues(hourly, utc(2026, 10, 24, 23, 30), utc(2026, 10, 25, 3, 30))
    assert autumn == [utc(2026, 10, 25, hour) for hour in range(4)]  # 02:00 CEST and 02:00 CET both run


def test_a_real_time_interval_is_aligned_to_the_epoch_or_to_the_start():
    quarter = Calendar(cron=None, interval="PT15M", timezone="Europe/Paris")
    assert dues(quarter, utc(2026, 3, 29, 0, 50), utc(2026, 3, 29, 1, 20)) == [utc(2026, 3, 29, 1, 0),
                                                                                utc(2026, 3, 29, 1, 15)]
    started = Calendar(cron=None, interval="PT1H", start_at=utc(2026, 1, 1, 0, 10))
    assert dues(started, utc(2025, 12, 1), utc(2026, 1, 1, 2, 30)) == [utc(2026, 1, 1, 0, 10), utc(2026, 1, 1, 1, 10),
                                                                        utc(2026, 1, 1, 2, 10)]


def test_a_day_interval_keeps_its_wall_time_across_the_change():
    daily = Calendar(cron=None, interval="P1D", timezone="Europe/Paris", start_at=utc(2026, 3, 27, 8, 0))  # 09:00
    assert dues(daily, utc(2026, 3, 27), utc(2026, 3, 31)) == [
        utc(2026, 3, 27, 8), utc(2026, 3, 28, 8), utc(2026, 3, 29, 7), utc(2026, 3, 30, 7)]  # 09:00 CET, then CEST


def test_a_month_interval_is_calendar_arithmetic():
    monthly = Calendar(cron=None, interval="P1M", start_at=utc(2026, 1, 31))
    assert dues(monthly, utc(2026, 1, 1), utc(2026, 5, 1)) == [utc(2026, 1, 31), utc(2026, 2, 28), utc(2026, 3, 31),
                                                                utc(2026, 4, 30)]


def test_start_and_end_bound_the_due_times():
    bounded = Calendar(cron="0 12 * * *", interval=None, start_at=utc(2026, 5, 2), end_at=utc(2026, 5, 4, 12))
    assert dues(bounded, utc(2026, 1, 1), utc(2027, 1, 1)) == [utc(2026, 5, 2, 12), utc(2026, 5, 3, 12),
                                                                utc(2026, 5, 4, 12)]
    assert bounded.next_after(utc(2026, 5, 4, 12)) is None


def test_no_due_time_past_what_the_engine_stores():
    for calendar in (Calendar(cron=None, interval="P1000Y"), Calendar(cron=None, interval="P9000Y", start_at=utc(2000, 1, 1)),
                     Calendar(cron="0 0 * * *", interval=None, timezone="Pacific/Kiritimati")):
        assert calendar.next_after(utc(9999, 12, 29)) is None
    assert Calendar(cron=None, interval="P9000Y", start_at=utc(2000, 1, 1)).next_after(utc(1, 1, 2)) == utc(2000, 1, 1)


def test_cron_extensions_and_nicknames():
    assert check_cron("@daily") == "0 0 * * *"
    assert check_cron("  0   9 *  *  MON-FRI ") == "0 9 * * MON-FRI"
    last_weekday = Calendar(cron="0 18 LW * *", interval=None, timezone="Europe/London")
    assert dues(last_weekday, utc(2026, 1, 1), utc(2026, 3, 1)) == [utc(2026, 1, 30, 18), utc(2026, 2, 27, 18)]
    first_monday = Calendar(cron="0 9 * * MON#1", interval=None)
    assert dues(first_monday, utc(2026, 1, 1), utc(2026, 3, 1)) == [utc(2026, 1, 5, 9), utc(2026, 2, 2, 9)]


def test_the_first_working_day_of_the_month_is_quartzs_1w():
    first = Calendar(cron=check_cron("0 9 1W * *"), interval=None, timezone="Europe/Paris")
    dues = first.due_between(utc(2026, 1, 1), utc(2027, 1, 1))
    assert [due.date().day for due in dues] == [1, 2, 2, 1, 1, 1, 1, 3, 1, 1, 2, 1]  # Feb, Mar, Nov 1: Sunday
    assert all(due.astimezone(zone("Europe/Paris")).weekday() < 5 for due in dues)
    assert dues[2] == utc(2026, 3, 2, 8) and dues[7] == utc(2026, 8, 3, 7)  # 09:00 CET, then CEST
    # the last: the 31st's nearest weekday, in the same month; a month without a 31st has none
    last = Calendar(cron=check_cron("0 18 31W * *"), interval=None)
    assert [due.date() for due in last.due_between(utc(2026, 1, 1), utc(2026, 7, 1))] == [
        datetime(2026, 1, 30).date(), datetime(2026, 3, 31).date(), datetime(2026, 5, 29).date()]
    middle = Calendar(cron=check_cron("0 12 15W * *"), interval=None)
    assert middle.next_after(utc(2026, 8, 1)) == utc(2026, 8, 14, 12)  # the 15th is a Saturday


@pytest.mark.parametrize(("check", "value", "field", "says"), [
    (check_cron, "61 * * * *", "cron", "Bad minute"),
    (check_cron, "* * *", "cron", "Wrong number of fields"),
    (check_cron, "", "cron", "5 fields"),
    (check_cron, 5, "cron", "5 fields"),
    (check_cron, "0 0 30 2 *", "cron", "Bad day-of-month"),
    (check_cron, "0 9 1W * MON", "cron", "needs * as the day of the week"),
    (check_cron, "0 9 32W * *", "cron", "Bad day-of-month"),
    (check_interval, "PT0S", "interval", "at least one second"),
    (check_interval, "every hour", "interval", "Not an ISO 8601 duration"),
    (check_interval, "-PT1H", "interval", "must not be negative"),
    (check_jitter, "P2D", "jitter", "at most one day"),
    (check_jitter, "P1M", "jitter", "at most one day"),
    (check_window, "P1Y", "catchup_window", "without months or years"),
    (check_window, "P367D", "catchup_window", "at most P366D"),
    (zone, "Europe/Pariss", "timezone", "Unknown time zone"),
    (zone, "../../etc/passwd", "timezone", "Not an IANA time zone name"),
])
def test_bad_fields_are_refused_naming_the_field(check, value, field, says):
    with pytest.raises(BadSchedule) as refused:
        check(value)
    assert refused.value.field == field and says in str(refused.value)


def test_a_wrongly_cased_zone_gets_a_hint():
    with pytest.raises(BadSchedule, match="did you mean `Europe/Paris`"):
        zone("europe/paris")


def test_exactly_one_of_cron_and_interval():
    for cron, interval in ((None, None), ("0 * * * *", "PT1H")):
        with pytest.raises(BadSchedule, match="exactly one"):
            Calendar(cron=cron, interval=interval)


def test_jitter_is_the_same_on_every_node_and_within_its_bound():
    due = utc(2026, 6, 1, 2)
    offsets = {jitter_of(name, due, timedelta(minutes=5)) for name in ("a", "b", "c", "d", "e", "f")}
    assert all(timedelta(0) <= offset <= timedelta(minutes=5) for offset in offsets) and len(offsets) > 1
    assert jitter_of("a", due, timedelta(minutes=5)) == jitter_of("a", due, timedelta(minutes=5))
    assert jitter_of("a", due, timedelta(0)) == timedelta(0)


def test_the_external_id_names_the_schedule_and_the_due_time_in_utc():
    paris = datetime(2026, 12, 8, 2, 0, tzinfo=zone("Europe/Paris"))  # 02:00 CET
    assert external_id("nightly", paris) == "schedule:nightly:2026-12-08T01:00:00Z"
    assert external_id("now", utc(2026, 12, 8, 1, 0, 0, 250000)) == "schedule:now:2026-12-08T01:00:00.250Z"
