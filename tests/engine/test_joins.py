"""engine.joins: when a fan-out's join is decided, from its counts alone."""
import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.joins import ChildGroup, Counts, decide, join_problem, tolerated_count


def counts(total, succeeded, failed):
    return Counts(total=total, succeeded=succeeded, failed=failed)


@pytest.mark.parametrize(("join", "total", "succeeded", "failed", "tolerated", "expected"), [
    ("all", 3, 2, 0, 3, None),
    ("all", 3, 2, 1, 3, "success"),        # every child ended: `all` does not mind failures by default
    ("all", 3, 0, 3, 3, "success"),
    ("all", 3, 1, 1, 0, "failed"),         # a tolerance given: beyond it, at once (fail fast)
    ("all_success", 3, 1, 1, 0, "failed"),
    ("all_success", 3, 3, 0, 0, "success"),
    ("all_success", 3, 2, 0, 0, None),
    ("all_success", 10, 8, 1, 1, None),    # within the tolerance: wait for the last
    ("all_success", 10, 9, 1, 1, "success"),
    ("any", 3, 1, 0, 3, "success"),
    ("any", 3, 0, 2, 3, None),
    ("any", 3, 0, 3, 3, "failed"),         # no child can succeed any more
    ("all", 0, 0, 0, 0, "success"),        # no items
    ("all_success", 0, 0, 0, 0, "success"),
    ("any", 0, 0, 0, 0, "failed"),
])
def test_decide(join, total, succeeded, failed, tolerated, expected):
    assert decide(counts(total, succeeded, failed), join=join, tolerated=tolerated) == expected


def test_first_n_succeeds_at_n_and_fails_when_n_cannot_be_reached():
    assert decide(counts(5, 2, 0), join="first_n", first_n=2, tolerated=5) == "success"
    assert decide(counts(5, 1, 2), join="first_n", first_n=2, tolerated=5) is None
    assert decide(counts(5, 1, 4), join="first_n", first_n=2, tolerated=5) == "failed"
    assert decide(counts(1, 0, 0), join="first_n", first_n=2, tolerated=1) == "failed"  # more wanted than items


def test_finish_all_waits_for_every_child_before_failing():
    assert decide(counts(4, 1, 1), join="all_success", tolerated=0, finish_all=True) is None
    assert decide(counts(4, 3, 1), join="all_success", tolerated=0, finish_all=True) == "failed"
    assert decide(counts(4, 0, 3), join="any", tolerated=4, finish_all=True) is None
    # A success is never held back by finish_all.
    assert decide(counts(4, 1, 0), join="any", tolerated=4, finish_all=True) == "success"


@pytest.mark.parametrize(("given_", "join", "total", "count"), [
    (None, "all", 40, 40), (None, "all_success", 40, 0), (None, "any", 7, 7), (3, "all", 40, 3),
    ("5%", "all", 10_000, 500), ("5%", "all", 39, 1), ("5 %", "all", 100, 5), ("0%", "all", 10, 0),
    ("100%", "all_success", 10, 10), ("2.5%", "all", 1000, 25),
])
def test_tolerated_count(given_, join, total, count):
    assert tolerated_count(given_, join=join, total=total) == count


@pytest.mark.parametrize(("settings", "field"), [
    ({"join": "most"}, "join"),
    ({"join": "first_n"}, "first_n"),
    ({"first_n": 2}, "first_n"),
    ({"join": "first_n", "first_n": 0}, "first_n"),
    ({"tolerated": -1}, "tolerated_failures"),
    ({"tolerated": "5"}, "tolerated_failures"),
    ({"tolerated": "101%"}, "tolerated_failures"),
    ({"tolerated": True}, "tolerated_failures"),
    ({"max_parallel": 0}, "max_parallel"),
    ({"max_parallel": "10"}, "max_parallel"),
    ({"on_failure": "stop"}, "on_failure"),
])
def test_join_problem_names_the_field(settings, field):
    values = {"join": "all", "tolerated": None, "first_n": None, "max_parallel": None, "on_failure": "fail_fast"}
    found = join_problem(**{**values, **settings})
    assert found is not None and found[0] == field


def test_good_settings_have_no_problem():
    assert join_problem(join="first_n", first_n=3, tolerated="5%", max_parallel=200, on_failure="finish_all") is None


@given(total=st.integers(0, 60), data=st.data(), join=st.sampled_from(["all", "all_success", "any", "first_n"]),
       tolerated=st.one_of(st.none(), st.integers(0, 70)), finish_all=st.booleans())
def test_every_end_decides_and_a_decision_never_comes_before_its_reason(total, data, join, tolerated, finish_all):
    first_n = data.draw(st.integers(1, 70)) if join == "first_n" else None
    count = tolerated_count(tolerated, join=join, total=total)
    succeeded = data.draw(st.integers(0, total))
    failed = data.draw(st.integers(0, total - succeeded))
    outcome = decide(counts(total, succeeded, failed), join=join, tolerated=count, first_n=first_n,
                     finish_all=finish_all)
    if succeeded + failed == total:
        assert outcome is not None  # every child ended: the join is decided
    if outcome == "failed":
        assert failed > count or (join in ("any", "first_n"))
        if finish_all:
            assert succeeded + failed == total
    if outcome == "success" and join in ("all", "all_success"):
        assert succeeded + failed == total and failed <= count


def test_describe_says_what_the_parent_waits_for():
    group = ChildGroup(id=1, pipeline="p", join="all", total=10_000, started=600, succeeded=585, failed=3,
                       tolerated=500, tolerated_given="5%")
    assert group.describe() == "waiting for 9,412 of 10,000 children (3 failed, 5 % tolerated)"
    assert (group.running, group.not_started, group.decided) == (12, 9_400, False)
    counted = ChildGroup(id=1, pipeline="p", join="all_success", total=4, started=4, succeeded=2, failed=0,
                         tolerated=0)
    assert counted.describe() == "waiting for 2 of 4 children (0 failed, 0 tolerated)"
    unlimited = ChildGroup(id=1, pipeline="p", join="all", total=4, started=4, succeeded=2, failed=1, tolerated=4)
    assert unlimited.describe() == "waiting for 1 of 4 children (1 failed)"
