"""The why-line selector (engine.selectors.why) and its duration humaniser."""
from datetime import UTC, datetime, timedelta

import pytest

from engine.models import Callback, Node, NodeGroup, Sleeper, Transaction
from engine.selectors.why import Facts, humanize_seconds, relative, transactions_why, why_line

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def ago(**kwargs):
    return NOW - timedelta(**kwargs)


def later(**kwargs):
    return NOW + timedelta(**kwargs)


def tx(status, **fields):
    values = {"id": "tx-1", "owner_id": "test", "pipeline_name": "p", "node_group_id": "master", "step_name": "s1",
              "created_at": ago(hours=4), "updated_at": ago(hours=3), "queued_at": ago(seconds=30)}
    return Transaction(status=status, **{**values, **fields})


def sleeper(reason, **fields):
    return Sleeper(tx_id="tx-1", owner_id="test", step="s1", reason=reason, since=ago(hours=3), **fields)


@pytest.mark.parametrize(("seconds", "text"), [
    (0, "0 s"), (0.9, "0 s"), (45, "45 s"), (60, "1 min"), (61, "1 min 1 s"), (240, "4 min"), (3600, "1 h"),
    (3 * 3600 + 59, "3 h"), (3 * 3600 + 600, "3 h 10 min"), (86400 + 21 * 3600 + 1800, "1 d 21 h"),
    (86400 + 300, "1 d"), (-45, "45 s"), (400 * 86400, "400 d"),
])
def test_durations_are_humanised_in_their_largest_unit_and_the_next(seconds, text):
    assert humanize_seconds(seconds) == text


def test_relative_times_say_in_or_ago_and_just_now_within_a_second():
    assert relative(later(minutes=4), now=NOW) == "in 4 min"
    assert relative(ago(hours=3), now=NOW) == "3 h ago"
    assert relative(NOW + timedelta(milliseconds=300), now=NOW) == "just now"


def test_a_switch_wait_says_since_when_and_when_it_times_out():
    facts = Facts(sleeper=sleeper("switch", switch="approved", timeout_at=later(days=1, hours=21)))
    why = why_line(tx=tx("sleeping"), facts=facts, now=NOW)
    assert why.text == "waiting for switch `approved` since 3 h; times out in 1 d 21 h"
    assert (why.code, why.level, why.facts["switch"]) == ("switch", "info", "approved")


def test_the_earlier_of_the_wait_timeout_and_the_deadline_is_the_timeout():
    facts = Facts(sleeper=sleeper("switch", switch="go", scope="global", timeout_at=later(days=2)))
    why = why_line(tx=tx("sleeping", deadline_at=later(hours=5)), facts=facts, now=NOW)
    assert why.text == "waiting for global switch `go` since 3 h; times out in 5 h"


def test_a_timer_says_until_when_and_in_how_long():
    why = why_line(tx=tx("sleeping"), facts=Facts(sleeper=sleeper("timer", wake_at=later(minutes=4))), now=NOW)
    assert why.text == "sleeping until 2025-03-01 12:04:00 UTC (in 4 min)"


def test_a_timer_past_due_is_a_warning():
    why = why_line(tx=tx("sleeping"), facts=Facts(sleeper=sleeper("timer", wake_at=ago(seconds=45))), now=NOW)
    assert why.level == "warn" and why.text.startswith("due since 45 s")


def test_a_callback_wait_names_the_callback_and_its_last_report():
    callback = Callback(name="payment", status="progress")
    why = why_line(tx=tx("sleeping"), facts=Facts(sleeper=sleeper("callback", callback=callback)), now=NOW)
    assert why.text == "waiting for callback `payment` (last report: progress) since 3 h"


def test_a_child_wait_names_the_child_and_its_status():
    child = Transaction(id="tx-child", status="running")
    why = why_line(tx=tx("sleeping"), facts=Facts(sleeper=sleeper("child", child=child)), now=NOW)
    assert why.text == "waiting for child tx-child (running) since 3 h" and why.facts["child_tx_id"] == "tx-child"


@pytest.mark.parametrize(("facts", "code", "text"), [
    (Facts(group=NodeGroup(name="master", paused=True), live_nodes=2), "paused",
     "queued for 30 s: its node group `master` is paused"),
    (Facts(group=NodeGroup(name="master"), live_nodes=0), "no_node",
     "queued for 30 s: no live node serves its node group `master`"),
    (Facts(group=NodeGroup(name="master", max_concurrency=4), live_nodes=1, running_in_group=4), "at_limit",
     "queued for 30 s: node group `master` is at its concurrency limit (4 of 4 running)"),
    (Facts(group=NodeGroup(name="master"), live_nodes=1, ahead=12), "behind",
     "queued for 30 s, in line behind 12 queued of node group `master`"),
    (Facts(group=NodeGroup(name="master"), live_nodes=1), "next",
     "queued for 30 s, next in line for node group `master`"),
])
def test_a_queued_line_names_what_holds_it(facts, code, text):
    why = why_line(tx=tx("queued"), facts=facts, now=NOW)
    assert (why.code, why.text) == (code, text)


def test_running_names_the_node_and_how_long():
    node = Node(node_id="n1", last_seen_at=ago(seconds=3))
    why = why_line(tx=tx("running", node="n1", lease_expires_at=later(seconds=20)),
                   facts=Facts(node=node, step_started_at=ago(minutes=2)), now=NOW)
    assert (why.code, why.text) == ("running", "running step `s1` on node n1 for 2 min")


def test_running_on_a_silent_node_warns_and_an_expired_lease_is_an_error():
    node = Node(node_id="n1", last_seen_at=ago(minutes=5))
    stale = why_line(tx=tx("running", node="n1", lease_expires_at=later(seconds=20)), facts=Facts(node=node), now=NOW)
    assert stale.level == "warn" and "heartbeat is stale (last seen 5 min ago)" in stale.text
    lost = why_line(tx=tx("running", node="n1", lease_expires_at=ago(seconds=10)), facts=Facts(node=node), now=NOW)
    assert lost.level == "error" and "lease expired 10 s ago" in lost.text


@pytest.mark.parametrize(("status", "level", "start"), [
    ("success", "ok", "succeeded 2 h ago"), ("failed", "error", "failed 2 h ago"),
    ("cancelled", "warn", "was cancelled 2 h ago"), ("timeout", "warn", "timed out 2 h ago"),
])
def test_a_finished_line_says_how_and_when_with_the_note(status, level, start):
    why = why_line(tx=tx(status, completed_at=ago(hours=2), note="the note"), facts=Facts(), now=NOW)
    assert why.level == level
    assert why.text == f"{start} (2025-03-01 10:00:00 UTC) at step `s1`: the note"


def test_lines_for_a_page_of_rows_take_a_fixed_number_of_queries(harness, django_assert_max_num_queries):
    harness.load({"name": "nap", "steps": [{"type": "util/sleep", "config": {"duration": "PT5M"}}]},
                 {"name": "echo", "steps": [{"type": "util/echo"}]})
    for _ in range(5):
        harness.start("nap", {})
    harness.settle()
    for _ in range(5):
        harness.start("echo", {})
    rows = list(Transaction.objects.all())
    with django_assert_max_num_queries(5):
        whys = transactions_why(txs=rows, now=harness.now())
    assert {why.code for why in whys.values()} == {"timer", "no_node"}
