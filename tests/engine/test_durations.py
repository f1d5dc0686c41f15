"""Properties of the one parser of durations and times (engine.durations): whatever it is given, it
answers a time inside what a datetime holds, or BadDuration, never anything else."""
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from engine import durations
from engine.errors import InvalidRequest
from tests import boundaries

FAST = settings(max_examples=boundaries.budget(60), deadline=None, derandomize=True)
NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)

NUMBERS = st.one_of(boundaries.numbers, st.sampled_from([float("inf"), float("-inf"), float("nan")]),
                    st.integers(), st.floats(), st.booleans())


ANYTHING = st.one_of(
    NUMBERS, boundaries.durations, boundaries.timestamps, boundaries.texts, st.text(max_size=80), st.none(),
    st.timedeltas(), st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=14)),
                                                             timezone(timedelta(hours=-14))])),
    st.datetimes(), st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


def in_bounds(moment):
    return moment.tzinfo is not None and durations.EARLIEST <= moment <= durations.LATEST


@FAST
@given(ANYTHING)
@example("P1000000Y")
@example("P1.5Y")
@example(1e20)
def test_parse_duration_answers_a_non_negative_duration_or_bad_duration(value):
    try:
        duration = durations.parse_duration(value)
    except durations.BadDuration:
        return
    assert durations.add(durations.EARLIEST, duration) >= durations.EARLIEST


@FAST
@given(ANYTHING, st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)))
@example("P1000000Y", NOW)
@example("P8000Y", NOW)
def test_a_duration_added_to_any_time_stays_inside_what_a_datetime_holds(value, start):
    try:
        end = durations.add(start, value)
    except durations.BadDuration:
        return
    assert in_bounds(end) and end >= start
    assert durations.seconds(value, start) >= 0


@FAST
@given(ANYTHING)
@example("0001-01-01T00:00:00+01:00")
@example("9999-12-31T23:59:59-23:59")
@example("2026-01-01T00:00:00\x00")
def test_parse_timestamp_answers_an_aware_utc_time_in_bounds_or_bad_duration(value):
    for naive_is_utc in (False, True):
        try:
            moment = durations.parse_timestamp(value, naive_is_utc=naive_is_utc)
        except durations.BadDuration:
            continue
        assert in_bounds(moment) and moment.utcoffset() == timedelta(0)


@FAST
@given(ANYTHING)
@example("P1000000Y")
def test_resolve_deadline_answers_a_time_in_bounds_or_invalid_request_on_its_field(value):
    try:
        deadline_at = durations.resolve_deadline(value, NOW, field="deadline")
    except InvalidRequest as exc:
        assert list(exc.extra["fields"]) == ["deadline"]
        return
    assert deadline_at is None or in_bounds(deadline_at)


@FAST
@given(ANYTHING)
def test_seconds_for_settings_and_waits_are_finite_and_within_what_python_can_wait(value):
    for parse in (durations.seconds_value, lambda v: durations.wait_seconds(v, NOW)):
        try:
            length = parse(value)
        except durations.BadDuration:
            continue
        assert 0 <= length <= durations.MAX_WAIT_SECONDS


@FAST
@given(ANYTHING)
def test_a_retention_cut_off_stays_inside_what_a_datetime_holds(value):
    try:
        cutoff = durations.before(NOW, value)
    except durations.BadDuration:
        return
    assert in_bounds(cutoff) and cutoff <= NOW


@pytest.mark.parametrize("value, message", [
    ("P1000000Y", durations.TOO_LONG), ("P8000Y", durations.TOO_LONG), ("-P1D", durations.NEGATIVE),
    (-1, durations.NEGATIVE), ("P1.5Y", "Years and months must be whole numbers."),
    ("PT1S\x00", durations.NOT_A_DURATION), ("P\u0661D", durations.NOT_A_DURATION),
])
def test_each_bad_duration_says_why(value, message):
    with pytest.raises(durations.BadDuration, match=message.replace(".", r"\.")):
        durations.add(NOW, value)


def test_the_last_moment_a_deadline_may_have_is_accepted_and_the_next_is_not():
    assert durations.parse_timestamp("9999-12-31T00:00:00Z") == durations.LATEST
    with pytest.raises(durations.BadDuration, match="Too far in the future"):
        durations.parse_timestamp("9999-12-31T00:00:01Z")
    assert durations.add(NOW, durations.LATEST - NOW) == durations.LATEST
    with pytest.raises(durations.BadDuration):
        durations.add(NOW, durations.LATEST - NOW + timedelta(microseconds=1))
