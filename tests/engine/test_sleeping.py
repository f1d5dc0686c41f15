"""Sleeping (spec/concepts.md): short sleeps in the worker, long sleeps as sleepers, the retry_later
defaults, `seconds`/`until`, calendar arithmetic in UTC, and years of sleep in virtual time."""
import time
from datetime import UTC, datetime, timedelta

import pytest

from engine.durations import parse_timestamp
from engine.models import Sleeper
from engine.steps import Step, register
from engine.testing import Harness

RUNS = {}


@register
class Nap(Step):
    """On the first run, `retry_later(**config["how"])`; then succeed. Records the time of each run."""

    type_name = "test/sleeping-nap"

    def invoke(self, ctx):
        RUNS.setdefault(ctx.tx_id, []).append((ctx.now(), ctx.retry_count))
        if ctx.retry_count == 0:
            how = dict(ctx.config.get("how", {}))
            if "until" in how:
                how["until"] = parse_timestamp(how["until"])
            return ctx.retry_later(**how)
        return ctx.succeeded(output={"retry_count": ctx.retry_count})


def nap(harness, name="nap", **how):
    harness.load({"name": name, "steps": [{"name": "nap", "type": "test/sleeping-nap", "config": {"how": how}}]})
    return harness.start(name, {"in": 1})


def sleeping_moves(result):
    return [e for e in result.journal if e.data.get("to") == "sleeping"]


@pytest.mark.parametrize("seconds", [0.5, 1, 2])
def test_a_short_sleep_stays_in_the_worker_without_a_sleeper(harness, seconds):
    tx_id = nap(harness, seconds=seconds)
    started = harness.now()
    harness.step()
    result = harness.result(tx_id)
    assert result.status == "success"
    assert not Sleeper.objects.exists()
    assert not sleeping_moves(result)
    assert result.steps == [("nap", "sleeping"), ("nap", "success")]
    assert [run.retry_count for run in result.step_runs] == [0, 1]
    assert result.step_runs[0].pk != result.step_runs[1].pk
    assert result.data == {"retry_count": 1}
    assert RUNS[tx_id][1][0] - started == timedelta(seconds=seconds)


def test_the_short_sleep_limit_follows_the_setting(harness, settings):
    settings.DATP = {**getattr(settings, "DATP", {}), "SHORT_SLEEP_SECONDS": 10}
    tx_id = nap(harness, seconds=8)
    harness.step()
    assert harness.result(tx_id).status == "success"


def test_a_long_sleep_writes_a_sleeper_and_releases_the_worker(harness):
    tx_id = nap(harness, seconds=3)
    started = harness.now()
    harness.settle()
    result = harness.result(tx_id)
    assert result.status == "sleeping"
    sleeper = result.sleeper
    assert sleeper.step == "nap"
    assert sleeper.reason == "timer"
    assert sleeper.wake_at == started + timedelta(seconds=3)
    assert sleeper.since == started
    assert sleeper.switch is None
    assert result.steps == [("nap", "sleeping")]
    assert result.tx.lease_token is None
    [entry] = sleeping_moves(result)
    assert entry.actor == "step:nap" and entry.data["reason"] == "timer"


def test_a_long_sleep_wakes_at_its_wake_at_and_not_before(harness):
    tx_id = nap(harness, seconds=600)
    started = harness.now()
    harness.advance("PT9M59S")
    assert harness.result(tx_id).status == "sleeping"
    harness.advance("PT1S")
    result = harness.result(tx_id)
    assert result.status == "success"
    assert result.sleeper is None
    assert result.steps == [("nap", "sleeping"), ("nap", "success")]
    assert result.step_runs[1].retry_count == 1
    assert result.step_runs[1].started_at == started + timedelta(minutes=10)
    woken = [e for e in result.journal if e.kind == "woken"]
    assert len(woken) == 1 and woken[0].data["why"] == "timer"


def test_retry_later_without_time_or_switch_sleeps_five_minutes(harness):
    tx_id = nap(harness)
    started = harness.now()
    harness.settle()
    assert harness.result(tx_id).sleeper.wake_at == started + timedelta(minutes=5)
    result = harness.run(tx_id)
    assert result.status == "success"
    assert RUNS[tx_id][1][0] == started + timedelta(minutes=5)


def test_retry_later_on_a_switch_without_time_falls_back_after_two_hours(harness):
    tx_id = nap(harness, switch="ready")
    started = harness.now()
    harness.settle()
    sleeper = harness.result(tx_id).sleeper
    assert sleeper.reason == "switch" and sleeper.switch == "ready"
    assert sleeper.wake_at == started + timedelta(hours=2)
    harness.advance("PT1H59M")
    assert harness.result(tx_id).status == "sleeping"
    assert harness.run(tx_id).status == "success"
    assert RUNS[tx_id][1][0] == started + timedelta(hours=2)


@pytest.mark.parametrize(("seconds", "expected"), [
    (90, timedelta(seconds=90)), (2.5, timedelta(seconds=2.5)), ("PT90S", timedelta(seconds=90)),
    ("PT1H30M", timedelta(minutes=90)), ("P2D", timedelta(days=2)),
])
def test_seconds_may_be_a_number_or_an_iso_duration(harness, seconds, expected):
    tx_id = nap(harness, seconds=seconds)
    started = harness.now()
    harness.settle()
    assert harness.result(tx_id).sleeper.wake_at == started + expected
    assert harness.run(tx_id).status == "success"
    assert RUNS[tx_id][1][0] == started + expected


def test_until_sleeps_to_an_absolute_time(harness):
    target = (harness.now() + timedelta(days=3, hours=4)).replace(microsecond=0)
    tx_id = nap(harness, until=target.isoformat())
    harness.settle()
    assert harness.result(tx_id).sleeper.wake_at == target
    assert harness.run(tx_id).status == "success"
    assert RUNS[tx_id][1][0] == target


def test_until_in_the_past_runs_the_step_again_at_once(harness):
    tx_id = nap(harness, until=(harness.now() - timedelta(hours=1)).isoformat())
    started = harness.now()
    harness.settle()
    result = harness.result(tx_id)
    assert result.status == "success"
    assert RUNS[tx_id][1][0] == started


@pytest.mark.parametrize(("start", "duration", "expected"), [
    (datetime(2023, 1, 31, 12, tzinfo=UTC), "P1M", datetime(2023, 2, 28, 12, tzinfo=UTC)),
    (datetime(2024, 1, 31, 12, tzinfo=UTC), "P1M", datetime(2024, 2, 29, 12, tzinfo=UTC)),
    (datetime(2024, 2, 28, 6, tzinfo=UTC), "P1D", datetime(2024, 2, 29, 6, tzinfo=UTC)),
    (datetime(2023, 3, 1, tzinfo=UTC), "P1Y", datetime(2024, 3, 1, tzinfo=UTC)),
    (datetime(2023, 12, 31, 23, tzinfo=UTC), "PT2H", datetime(2024, 1, 1, 1, tzinfo=UTC)),
])
def test_months_and_years_are_calendar_arithmetic_in_utc(db, start, duration, expected):
    with Harness(start_at=start) as h:
        tx_id = nap(h, seconds=duration)
        h.settle()
        assert h.result(tx_id).sleeper.wake_at == expected
        assert h.run(tx_id).status == "success"
        assert RUNS[tx_id][1][0] == expected


def test_a_year_long_sleep_spans_the_leap_day(db):
    with Harness(start_at=datetime(2023, 6, 1, tzinfo=UTC)) as h:
        tx_id = nap(h, seconds="P1Y")
        assert h.run(tx_id).status == "success"
        assert RUNS[tx_id][1][0] - RUNS[tx_id][0][0] == timedelta(days=366)


def test_a_thirty_day_sleep_takes_milliseconds_of_real_time(harness):
    tx_id = nap(harness, seconds="P30D")
    started = harness.now()
    wall = time.monotonic()
    result = harness.run(tx_id)
    assert time.monotonic() - wall < 5
    assert result.status == "success"
    assert harness.now() - started == timedelta(days=30)


def test_a_woken_step_runs_again_with_the_same_input(harness):
    tx_id = nap(harness, seconds=3600)
    result = harness.run(tx_id)
    assert [run.input for run in result.step_runs] == [{"in": 1}, {"in": 1}]


def test_a_bad_duration_is_an_internal_error_of_the_step(harness):
    tx_id = nap(harness, seconds="tomorrow")
    result = harness.run(tx_id)
    assert result.status == "internal_error"
    assert "seconds" in result.note
