"""util/map and ctx.start_children in the Harness: join modes, tolerated failures, fail fast, finish_all,
max_parallel, the parent's one wake-up, cancelling, crashes and re-runs (a child per item, never two)."""
import pytest
from django.conf import settings
from django.test import override_settings

from engine.errors import InvalidPipeline, InvalidRequest
from engine.models import FanOut, FanOutItem, JournalEntry, Transaction
from engine.runtime import executor
from engine.services.fanout import check_join
from engine.steps import Step, registry

# A child: fails when its data says "fail", waits for its switch "go" when it says "wait", else succeeds.
KID = {"name": "kid", "transaction_type": False, "steps": [
    {"name": "route", "type": "util/choice", "config": {"rules": [
        {"when": {"path": "/fail", "equals": True}, "outcome": "refuse"},
        {"when": {"path": "/wait", "equals": True}, "outcome": "hold"}], "default": "go"},
     "on": {"refuse": "refuse", "hold": "hold", "go": "done"}},
    {"name": "refuse", "type": "util/fail", "config": {"note": "asked to fail"}},
    {"name": "hold", "type": "util/wait-switch", "config": {"switch": "go"}, "on": {"success": "done"}},
    {"name": "done", "type": "util/set", "config": {"values": {"done": True}}},
]}


def load_map(h, **config):
    h.load(KID, {"name": "fan", "steps": [
        {"name": "each", "type": "util/map", "config": {"items": "/items", "pipeline": "kid", **config}},
        {"name": "after", "type": "util/set", "config": {"values": {"after": True}}}]})


def children(tx_id):
    return list(Transaction.objects.filter(parent_id=tx_id).order_by("fan_out_item__index"))


def statuses(result):
    return [item["status"] for item in result.data["results"]]


def release(h, tx_id):
    """Set "go" on every sleeping child of `tx_id`, then run the parent to its end."""
    for child in children(tx_id):
        if child.status == "sleeping":
            h.set_switch(child.pk, "go", True)
    return h.run(tx_id)


def woken(tx_id):
    return [entry.data for entry in JournalEntry.objects.filter(tx_id=tx_id, kind="woken")]


# join: all --------------------------------------------------------------------------------------


def test_all_runs_a_child_per_item_and_lists_their_outputs_in_item_order(harness):
    load_map(harness, data={"shop": "north"})
    items = [{"n": 1}, 2, "three", {"n": 4, "shop": "south"}]
    result = harness.run(harness.start("fan", {"items": items, "keep": True}))
    assert result.status == "success"
    assert result.data["keep"] is True and result.data["after"] is True
    assert [(r["index"], r["status"], r["data"]) for r in result.data["results"]] == [
        (0, "success", {"n": 1, "shop": "north", "done": True}),
        (1, "success", {"item": 2, "shop": "north", "done": True}),
        (2, "success", {"item": "three", "shop": "north", "done": True}),
        (3, "success", {"n": 4, "shop": "south", "done": True}),
    ]
    kids = children(result.tx.pk)
    assert [r["tx_id"] for r in result.data["results"]] == [kid.pk for kid in kids]
    assert {kid.owner_id for kid in kids} == {"test"}
    assert result.runs("each")[-1].note == "4 children: 4 succeeded, 0 failed, 0 not started; join all: success"
    assert result.steps == [("each", "sleeping"), ("each", "success"), ("after", "success")]


def test_all_succeeds_with_failed_children_unless_a_tolerance_is_given(harness):
    load_map(harness)
    result = harness.run(harness.start("fan", {"items": [{}, {"fail": True}, {}]}))
    assert result.status == "success"
    assert statuses(result) == ["success", "failed", "success"]
    assert result.data["results"][1]["data"] == {}


def test_the_parent_is_woken_once_when_the_join_is_decided(harness):
    load_map(harness)
    tx_id = harness.start("fan", {"items": [{"wait": True}] * 5})
    harness.settle()
    assert harness.result(tx_id).sleeper.reason == "children"
    for child in children(tx_id)[:4]:
        harness.set_switch(child.pk, "go", True)
        harness.settle()
        assert harness.result(tx_id).status == "sleeping"  # not woken by each child
    assert woken(tx_id) == []
    result = release(harness, tx_id)
    assert result.status == "success"
    assert [(data["reason"], data["why"]) for data in woken(tx_id)] == [
        ("children", "the join of 5 children was decided: success")]
    assert [run.status for run in result.runs("each")] == ["sleeping", "success"]


def test_an_empty_list_decides_at_once(harness):
    load_map(harness)
    result = harness.run(harness.start("fan", {"items": []}))
    assert (result.status, result.data["results"]) == ("success", [])
    assert result.steps == [("each", "success"), ("after", "success")]


def test_an_input_without_the_list_fails_the_step(harness):
    load_map(harness)
    result = harness.run(harness.start("fan", {"items": {"a": 1}}))
    assert result.status == "failed"
    assert result.note == "items: the input has a dict at /items, not a list"
    assert harness.run(harness.start("fan", {})).note == "items: the input has nothing at /items, not a list"


# all_success, tolerated failures, fail fast, finish_all ----------------------------------------------


def test_all_success_fails_fast_cancelling_the_running_children_and_starting_no_more(harness):
    load_map(harness, join="all_success", max_parallel=3)
    items = [{"wait": True}, {"wait": True}, {"fail": True}, {}, {}]
    result = harness.run(harness.start("fan", {"items": items}))
    assert result.status == "failed"
    assert result.note == "5 children: 0 succeeded, 3 failed, 2 not started; join all_success: failed"
    assert statuses(result) == ["cancelled", "cancelled", "failed", "not_started", "not_started"]
    assert [kid.status for kid in children(result.tx.pk)] == ["cancelled", "cancelled", "failed"]
    assert FanOutItem.objects.filter(child__isnull=True).count() == 2


def test_finish_all_lets_every_child_end_before_failing(harness):
    load_map(harness, join="all_success", on_failure="finish_all", max_parallel=2)
    tx_id = harness.start("fan", {"items": [{"fail": True}, {"wait": True}, {}, {"wait": True}]})
    harness.settle()
    assert harness.result(tx_id).status == "sleeping"
    assert len(children(tx_id)) == 4  # the failure started the rest instead of stopping them
    result = release(harness, tx_id)
    assert result.status == "failed"
    assert statuses(result) == ["failed", "success", "success", "success"]


@pytest.mark.parametrize(("tolerated", "failing", "expected"), [
    (1, 1, "success"), (1, 2, "failed"), ("10%", 1, "success"), ("10%", 2, "failed"), ("25%", 2, "success"),
])
def test_tolerated_failures_count_or_percentage(harness, tolerated, failing, expected):
    load_map(harness, join="all_success", tolerated_failures=tolerated)
    items = [{"fail": True}] * failing + [{}] * (10 - failing)
    result = harness.run(harness.start("fan", {"items": items}))
    assert result.status == expected
    assert statuses(result).count("failed") == failing


# any, first_n -------------------------------------------------------------------------------------


def test_any_succeeds_at_the_first_success_and_cancels_the_rest(harness, monkeypatch):
    # One claim at a time: a worker that claims items 2 and 3 together (a batch, engine.runtime.executor) runs
    # item 3's step before item 2's success is checkpointed, so the results show item 3 "running" (its cancel is
    # requested and it ends cancelled at its checkpoint); this test is about the order of the windows.
    monkeypatch.setattr(executor, "_sizes", {})
    load_map(harness, join="any", max_parallel=3)
    items = [{"wait": True}, {"fail": True}, {}, {"wait": True}, {}]
    with override_settings(DATP={**settings.DATP, "BATCH_MAX": 1}):
        result = harness.run(harness.start("fan", {"items": items}))
    assert result.status == "success"
    # item 3 started when item 1 failed, and was cancelled before it ran
    assert statuses(result) == ["cancelled", "failed", "success", "cancelled", "not_started"]


def test_any_fails_when_every_child_failed(harness):
    load_map(harness, join="any")
    result = harness.run(harness.start("fan", {"items": [{"fail": True}] * 3}))
    assert (result.status, statuses(result)) == ("failed", ["failed"] * 3)


def test_first_n_waits_for_n_successes(harness):
    load_map(harness, join="first_n", first_n=2)
    tx_id = harness.start("fan", {"items": [{"wait": True}, {}, {"wait": True}]})
    harness.settle()
    assert harness.result(tx_id).status == "sleeping"
    harness.set_switch(children(tx_id)[0].pk, "go", True)
    result = harness.run(tx_id)
    assert (result.status, statuses(result)) == ("success", ["success", "success", "cancelled"])


# max_parallel -------------------------------------------------------------------------------------


def test_max_parallel_starts_the_rest_as_others_end(harness):
    load_map(harness, max_parallel=2)
    tx_id = harness.start("fan", {"items": [{"wait": True}] * 5})
    harness.settle()
    assert len(children(tx_id)) == 2
    for expected in (3, 4, 5, 5):
        running = [kid for kid in children(tx_id) if kid.status == "sleeping"]
        harness.set_switch(running[0].pk, "go", True)
        harness.settle()
        assert len(children(tx_id)) == expected
        assert sum(kid.status == "sleeping" for kid in children(tx_id)) <= 2
    result = release(harness, tx_id)
    assert statuses(result) == ["success"] * 5
    fan = FanOut.objects.get(tx_id=tx_id)
    assert (fan.total, fan.started, fan.succeeded, fan.failed, fan.outcome) == (5, 5, 5, 0, "success")


# the parent ----------------------------------------------------------------------------------------


def test_cancelling_the_parent_cancels_its_children_and_starts_no_more(harness):
    load_map(harness, max_parallel=2)
    tx_id = harness.start("fan", {"items": [{"wait": True}] * 4})
    harness.settle()
    harness.cancel(tx_id, reason="enough")
    harness.settle()
    assert harness.result(tx_id).status == "cancelled"
    assert [kid.status for kid in children(tx_id)] == ["cancelled", "cancelled"]
    fan = FanOut.objects.get(tx_id=tx_id)
    assert (fan.started, fan.failed, fan.outcome) == (2, 2, "closed")


def test_a_crashed_run_of_the_map_step_finds_its_children_again(harness):
    load_map(harness)
    harness.crash_next_run("each")
    tx_id = harness.start("fan", {"items": [{"wait": True}, {"wait": True}, {}]})
    harness.settle()
    assert harness.result(tx_id).status == "running"
    harness.advance_past_lease()
    result = release(harness, tx_id)
    assert result.status == "success"
    assert [(run.attempt, run.status) for run in result.runs("each")][:2] == [(1, "lost"), (2, "sleeping")]
    assert len(children(tx_id)) == 3 and FanOut.objects.filter(tx_id=tx_id).count() == 1


def test_an_operators_wake_runs_the_step_again_without_new_children(harness):
    load_map(harness)
    tx_id = harness.start("fan", {"items": [{"wait": True}, {"wait": True}]})
    harness.settle()
    harness.wake(tx_id, reason="look again")
    harness.settle()
    assert harness.result(tx_id).status == "sleeping"
    assert len(children(tx_id)) == 2
    assert release(harness, tx_id).status == "success"


def test_a_retried_child_moves_its_count(harness):
    flaky = {"fail": True}

    class Flaky(Step):
        type_name = "test/flaky"

        def invoke(self, ctx):
            if ctx.input["item"] == 2:  # holds the join open until its switch is set
                return ctx.succeeded() if ctx.get_switch("go") else ctx.wait(switch="go")
            return ctx.failed("flaky") if flaky["fail"] else ctx.succeeded()

    registry.register(Flaky)
    try:
        harness.load({"name": "flaky", "transaction_type": False, "steps": [{"type": "test/flaky"}]}, KID,
                     {"name": "mixed", "steps": [{"name": "each", "type": "util/map", "config": {
                         "items": "/items", "pipeline": "flaky", "join": "all_success",
                         "on_failure": "finish_all"}}]})
        tx_id = harness.start("mixed", {"items": [1, 2]})
        harness.settle()
        first, second = children(tx_id)
        assert (first.status, second.status) == ("failed", "sleeping")
        assert (FanOut.objects.get(tx_id=tx_id).failed, harness.result(tx_id).status) == (1, "sleeping")
        flaky["fail"] = False
        harness.retry(first.pk, reason="fixed")
        harness.settle()
        assert Transaction.objects.get(pk=first.pk).status == "success"
        harness.set_switch(second.pk, "go", True)
        result = harness.run(tx_id)
        assert (result.status, statuses(result)) == ("success", ["success", "success"])
        fan = FanOut.objects.get(tx_id=tx_id)
        assert (fan.succeeded, fan.failed) == (2, 0)
    finally:
        registry.unregister(Flaky.type_name)


# settings ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("config", "problem"), [
    ({"items": "items"}, "steps[0].config.items: 'items' is not a JSON pointer"),
    ({"join": "first_n"}, "steps[0].config.first_n: is required with join first_n, and only with it"),
    ({"first_n": 2}, "steps[0].config.first_n: is required with join first_n, and only with it"),
    ({"pipeline": "kidd"}, "steps[0].config.pipeline: no pipeline named 'kidd': did you mean `kid`?"),
    ({"tolerated_failures": "5"}, "steps[0].config.tolerated_failures"),
    ({"join": "most"}, "steps[0].config.join"),
    ({"max_parallel": 0}, "steps[0].config.max_parallel"),
])
def test_loading_refuses_bad_settings_at_their_path(harness, config, problem):
    with pytest.raises(InvalidPipeline) as raised:
        harness.load(KID, {"name": "bad", "steps": [
            {"type": "util/map", "config": {"items": "/items", "pipeline": "kid", **config}}]})
    assert problem in str(raised.value)


@pytest.mark.parametrize(("settings", "field"), [
    ({"items": "abc"}, "items"), ({"join": "first_n"}, "first_n"), ({"tolerated": "x%"}, "tolerated_failures"),
])
def test_start_children_refuses_bad_settings_naming_the_field(settings, field):
    values = {"items": [1], "join": "all", "first_n": None, "tolerated": None, "max_parallel": None,
              "on_failure": "fail_fast"}
    with pytest.raises(InvalidRequest) as raised:
        check_join(**{**values, **settings})
    assert field in raised.value.extra["fields"]


def test_more_items_than_the_limit_fail_the_step_at_once_not_retried(harness, settings):
    settings.DATP = {**settings.DATP, "MAX_FAN_OUT_ITEMS": 3}
    load_map(harness)
    result = harness.run(harness.start("fan", {"items": [{}] * 4}))
    assert result.steps == [("each", "failed")]
    assert "At most 3 items per fan-out (DATP MAX_FAN_OUT_ITEMS); this list has 4" in result.note
    assert Transaction.objects.filter(parent_id=result.tx.pk).count() == 0
    assert harness.run(harness.start("fan", {"items": [{}] * 3})).status == "success"
