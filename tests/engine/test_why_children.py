"""The why-line of a transaction waiting for a fan-out's join: ChildGroup.describe's text, read from the
fan-out's counters (engine.selectors.why)."""
from engine.models import FanOut
from engine.selectors.why import Facts, why_line
from tests.engine.test_why_line import NOW, later, sleeper, tx


def fan(**counts):
    values = {"id": 7, "tx_id": "tx-1", "step": "s1", "visit": 1, "seq": 1, "pipeline": "item", "join": "all",
              "total": 10_000, "started": 9_000, "succeeded": 585, "failed": 3, "tolerated": 500,
              "tolerated_given": "5%", "created_at": NOW}
    return FanOut(**{**values, **counts})


def waiting_on(fan_out, **fields):
    return Facts(sleeper=sleeper("children", fan_out=fan_out, **fields))


def test_the_line_says_how_many_children_it_waits_for_exactly_as_the_issue_words_it():
    why = why_line(tx=tx("sleeping"), facts=waiting_on(fan()), now=NOW)
    assert why.text == "waiting for 9,412 of 10,000 children (3 failed, 5 % tolerated)"
    assert (why.code, why.level, why.facts["fan_out"], why.facts["reason"]) == ("children", "info", 7, "children")


def test_a_count_tolerance_is_named_and_an_unlimited_one_left_out():
    assert why_line(tx=tx("sleeping"), facts=waiting_on(fan(tolerated_given=3, tolerated=3)), now=NOW).text == \
        "waiting for 9,412 of 10,000 children (3 failed, 3 tolerated)"
    assert why_line(tx=tx("sleeping"), facts=waiting_on(fan(tolerated_given=None, tolerated=10_000)),
                    now=NOW).text == "waiting for 9,412 of 10,000 children (3 failed)"


def test_a_wait_that_times_out_says_when():
    why = why_line(tx=tx("sleeping"), facts=waiting_on(fan(), timeout_at=later(hours=2)), now=NOW)
    assert why.text == "waiting for 9,412 of 10,000 children (3 failed, 5 % tolerated); times out in 2 h"


def test_a_decided_join_says_how_it_ended():
    why = why_line(tx=tx("sleeping"), facts=waiting_on(fan(started=10_000, succeeded=9_997, outcome="success")),
                   now=NOW)
    assert why.text == ("10,000 children: 9,997 succeeded, 3 failed, 0 not started; join all: success")
