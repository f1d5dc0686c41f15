"""Child transactions: util/child-pipeline, util/call in the foreground, and the parent-child lifecycle."""
import pytest

from engine import tokens
from engine.errors import UnknownTransactionType
from engine.models import Callback, CallbackUpdate, NodeGroup, Transaction
from engine.steps import Step, registry


class Raise(Step):
    """Raise, so that the transaction ends internal_error."""

    type_name = "test/raise"

    def invoke(self, ctx):
        raise RuntimeError("boom")


@pytest.fixture
def raising_step():
    registry.register(Raise)
    yield
    registry.unregister(Raise.type_name)


def children_of(tx_id):
    return list(Transaction.objects.filter(parent_id=tx_id).order_by("created_at"))


def setter(values):
    return {"type": "util/set", "config": {"values": values}}


def load_children(harness):
    harness.load(
        {"name": "kid-a", "transaction_type": False, "steps": [setter({"by": "a"})]},
        {"name": "kid-b", "transaction_type": False, "steps": [setter({"by": "b"})]},
        {"name": "kid-wait", "transaction_type": False, "steps": [
            {"type": "util/wait-switch", "config": {"switch": "go"}},
            {"type": "util/set", "config": {"values": {"waited": True}}}]},
    )


def parent(harness, step_type, config, name="parent"):
    harness.load({"name": name, "steps": [{"name": "child", "type": step_type, "config": config}]})
    return name


# util/child-pipeline -------------------------------------------------------------------------


def test_child_pipeline_runs_the_child_with_the_input_and_returns_its_output(harness):
    load_children(harness)
    result = harness.run(harness.start(parent(harness, "util/child-pipeline", {"pipeline": "kid-a"}), {"n": 1}))
    assert result.status == "success"
    assert result.data == {"n": 1, "by": "a"}
    [child] = children_of(result.tx.pk)
    assert (child.pipeline_name, child.status, child.input, child.owner_id) == ("kid-a", "success", {"n": 1}, "test")
    assert result.steps == [("child", "sleeping"), ("child", "success")]


@pytest.mark.parametrize("value, chosen", [("alpha", "kid-a"), ("beta", "kid-b"), (True, "kid-b"), (3, "kid-a"),
                                           ("other", "kid-b"), (None, "kid-b")])
def test_child_pipeline_chooses_the_child_by_field_map_and_default(harness, value, chosen):
    load_children(harness)
    config = {"field": "route.kind", "map": {"alpha": "kid-a", "beta": "kid-b", "true": "kid-b", "3": "kid-a"},
              "default": "kid-b"}
    result = harness.run(harness.start(parent(harness, "util/child-pipeline", config), {"route": {"kind": value}}))
    assert result.status == "success"
    assert [child.pipeline_name for child in children_of(result.tx.pk)] == [chosen]


def test_child_pipeline_without_a_match_or_default_fails(harness):
    load_children(harness)
    config = {"field": "kind", "map": {"alpha": "kid-a"}}
    result = harness.run(harness.start(parent(harness, "util/child-pipeline", config), {"kind": "zeta"}))
    assert result.status == "failed"
    assert result.note == "Unknown value for selection field"
    assert children_of(result.tx.pk) == []


@pytest.mark.parametrize("child_step, status", [
    ({"type": "util/fail", "config": {"note": "no", "output": {"e": 1}}}, "failed"),
    ({"type": "util/fixed-reply", "config": {"status": "aborted", "note": "no", "reply": {"e": 1}}}, "aborted"),
])
def test_child_pipeline_outcome_follows_the_child(harness, child_step, status):
    harness.load({"name": "kid", "steps": [child_step]})
    result = harness.run(harness.start(parent(harness, "util/child-pipeline", {"pipeline": "kid"})))
    assert result.status == status
    assert result.data == {"e": 1}
    assert result.note == "no"


def test_a_child_internal_error_fails_the_parent_step(harness, raising_step):
    harness.load({"name": "kid", "steps": [{"type": "test/raise"}]})
    result = harness.run(harness.start(parent(harness, "util/child-pipeline", {"pipeline": "kid"})))
    assert children_of(result.tx.pk)[0].status == "internal_error"
    assert result.status == "failed"
    assert result.steps[-1] == ("child", "failed")


def test_a_failed_child_is_routable_in_the_parent(harness):
    harness.load({"name": "kid", "steps": [{"type": "util/fail", "config": {"note": "no"}}]})
    harness.load({"name": "parent", "steps": [
        {"name": "child", "type": "util/child-pipeline", "config": {"pipeline": "kid"}, "on": {"failed": "fix"}},
        {"name": "never", "type": "util/fail"},
        {"name": "fix", "type": "util/set", "config": {"values": {"fixed": True}}},
    ]})
    result = harness.run(harness.start("parent"))
    assert result.status == "success"
    assert result.data == {"fixed": True}


def test_the_child_runs_on_its_own_pipelines_node_group(harness):
    harness.load({"name": "kid", "node_group": "workers", "steps": [{"type": "util/echo"}]})
    parent_id = harness.start(parent(harness, "util/child-pipeline", {"pipeline": "kid"}))
    NodeGroup.objects.filter(pk="workers").update(paused=True)
    harness.settle()
    [child] = children_of(parent_id)
    assert (child.node_group_id, child.status) == ("workers", "queued")
    assert harness.result(parent_id).tx.node_group_id == "master"
    assert harness.result(parent_id).sleeper.child_id == child.pk
    NodeGroup.objects.filter(pk="workers").update(paused=False)
    harness.settle()
    assert harness.result(parent_id).status == "success"


def test_the_parent_wakes_the_moment_its_child_finishes(harness):
    load_children(harness)
    parent_id = harness.start(parent(harness, "util/child-pipeline", {"pipeline": "kid-wait"}), {"n": 1})
    harness.settle()
    [child] = children_of(parent_id)
    assert harness.result(parent_id).sleeper.reason == "child"
    assert harness.result(parent_id).sleeper.wake_at is None
    before = harness.now()
    harness.set_switch(child.pk, "go", True)
    harness.settle()
    result = harness.result(parent_id)
    assert result.status == "success"
    assert result.data == {"n": 1, "waited": True}
    assert harness.now() == before
    assert any(e.kind == "woken" and child.pk in e.data["why"] for e in result.journal)


def test_a_rerun_of_the_parent_step_does_not_start_a_second_child(harness):
    load_children(harness)
    parent_id = harness.start(parent(harness, "util/child-pipeline", {"pipeline": "kid-wait"}))
    harness.settle()
    [child] = children_of(parent_id)
    for _ in range(2):
        harness.wake(parent_id)
        harness.settle()
        assert harness.result(parent_id).status == "sleeping"
    assert children_of(parent_id) == [child]
    assert harness.result(parent_id).sleeper.child_id == child.pk
    harness.set_switch(child.pk, "go", True)
    assert harness.run(parent_id).status == "success"


def test_a_child_only_pipeline_starts_as_a_child_but_not_directly(harness):
    load_children(harness)
    with pytest.raises(UnknownTransactionType) as caught:
        harness.start("kid-a")
    assert caught.value.code == "unknown_transaction_type"
    result = harness.run(harness.start(parent(harness, "util/child-pipeline", {"pipeline": "kid-a"})))
    assert result.status == "success"


# util/call in the foreground -----------------------------------------------------------------


def test_call_in_the_foreground_merges_data_over_the_input_and_returns_the_childs_output(harness):
    load_children(harness)
    config = {"transaction_type": "kid-a", "data": {"extra": {"x": 1}, "n": 2}}
    result = harness.run(harness.start(parent(harness, "util/call", config), {"n": 1, "extra": {"y": 2}}))
    assert result.status == "success"
    [child] = children_of(result.tx.pk)
    assert child.input == {"n": 2, "extra": {"x": 1, "y": 2}}
    assert result.data == {"n": 2, "extra": {"x": 1, "y": 2}, "by": "a"}
    assert result.steps == [("child", "sleeping"), ("child", "success")]


def test_call_in_the_foreground_follows_the_childs_outcome(harness):
    harness.load({"name": "kid", "steps": [{"type": "util/fail", "config": {"note": "no"}}]})
    result = harness.run(harness.start(parent(harness, "util/call", {"transaction_type": "kid"})))
    assert (result.status, result.note) == ("failed", "no")


# util/call in the background -----------------------------------------------------------------


def background_parent(harness, child, callback=True):
    call = {"transaction_type": child, "background": True}
    steps = [{"name": "cb", "type": "util/callback", "config": {"callback_data": {"order": 7}}}] if callback else []
    if callback:
        call["callback"] = "default"
    steps += [{"name": "call", "type": "util/call", "config": call},
              {"name": "await", "type": "util/await"}]
    harness.load({"name": "parent", "steps": steps if callback else steps[:1]})
    return "parent"


def test_call_in_the_background_succeeds_at_once_with_the_childs_id(harness):
    load_children(harness)
    result = harness.run(harness.start(background_parent(harness, "kid-wait", callback=False), {"a": 1}))
    [child] = children_of(result.tx.pk)
    assert result.status == "success"
    assert result.data == {"a": 1, "call": {"tx_id": child.pk}}
    assert result.steps == [("call", "success")]
    assert (child.status, child.input) == ("sleeping", {"a": 1})


def test_a_background_child_with_a_callback_carries_its_marker_not_its_token(harness):
    load_children(harness)
    harness.load({"name": "parent", "steps": [
        {"type": "util/callback", "config": {"name": "pay"}},
        {"type": "util/set", "config": {"values": {"callback": {"token": "stale", "url": "stale"}}}},
        {"type": "util/call", "config": {"transaction_type": "kid-wait", "background": True, "callback": "pay"}},
    ]})
    parent_id = harness.start("parent")
    harness.settle()
    [child] = children_of(parent_id)
    ref = tokens.marker(parent_id, "pay")
    assert child.input["callback"] == {"name": "pay", "token": ref, "url": ref}
    assert harness.callback_token(parent_id, "pay") not in str(child.input)
    assert child.report_to_id == Callback.objects.get(tx_id=parent_id, name="pay").pk


@pytest.mark.parametrize("child_step, callback_status, tx_status", [
    ({"type": "util/set", "config": {"values": {"result": 42}}}, "complete", "success"),
    ({"type": "util/fixed-reply", "config": {"status": "aborted", "note": "stop"}}, "cancel", "cancelled"),
    ({"type": "util/fail", "config": {"note": "no"}}, "error", "failed"),
    ({"type": "test/raise"}, "error", "failed"),
])
def test_a_background_childs_end_reports_to_its_callback(harness, raising_step, child_step, callback_status,
                                                         tx_status):
    harness.load({"name": "kid", "steps": [child_step]})
    result = harness.run(harness.start(background_parent(harness, "kid"), {"a": 1}))
    [child] = children_of(result.tx.pk)
    callback = Callback.objects.get(tx_id=result.tx.pk)
    assert callback.status == callback_status
    assert result.status == tx_status
    update = CallbackUpdate.objects.get(callback=callback)
    assert (update.status, update.actor) == (callback_status, f"child:{child.pk}")
    if callback_status == "complete":
        assert callback.data == child.output
        assert result.data["result"] == 42 and result.data["order"] == 7


def test_a_cancelled_background_child_reports_cancel(harness):
    load_children(harness)
    parent_id = harness.start(background_parent(harness, "kid-wait"))
    harness.settle()
    [child] = children_of(parent_id)
    harness.cancel(child.pk)
    harness.settle()
    assert Callback.objects.get(tx_id=parent_id).status == "cancel"
    assert harness.result(parent_id).status == "cancelled"


def test_an_await_flow_with_a_background_child_that_reports_progress(harness):
    harness.load({"name": "worker", "transaction_type": False, "steps": [
        {"name": "half", "type": "util/callback-update", "config": {"status": "progress", "data": {"stage": "half"}}},
        {"name": "work", "type": "util/sleep", "config": {"duration": "PT5M"}},
        {"name": "done", "type": "util/set", "config": {"values": {"result": 42}}},
    ]})
    parent_id = harness.start(background_parent(harness, "worker"), {"a": 1})
    harness.settle()
    assert Callback.objects.get(tx_id=parent_id).status == "progress"
    assert harness.result(parent_id).status == "sleeping"
    result = harness.run(parent_id)
    assert result.status == "success"
    assert {key: result.data[key] for key in ("a", "order", "stage", "result")} == \
        {"a": 1, "order": 7, "stage": "half", "result": 42}
    statuses = list(CallbackUpdate.objects.filter(callback__tx_id=parent_id).order_by("id").values_list(
        "status", flat=True))
    assert statuses == ["progress", "complete"]


def test_a_foreground_call_with_a_callback_or_a_background_call_with_an_unknown_one_fails(harness):
    load_children(harness)
    harness.load({"name": "fg", "steps": [{"type": "util/callback"}, {"type": "util/call", "config": {
        "transaction_type": "kid-a", "callback": "default"}}]})
    harness.load({"name": "bg", "steps": [{"type": "util/call", "config": {
        "transaction_type": "kid-a", "background": True, "callback": "nope"}}]})
    for name, note in (("fg", "A callback is only for a background call"), ("bg", "Unknown callback")):
        result = harness.run(harness.start(name))
        assert (result.status, result.note) == ("failed", note)
        assert children_of(result.tx.pk) == []


# Cancel and timeout reach the children -------------------------------------------------------


def test_cancelling_a_parent_cancels_its_unfinished_children(harness):
    load_children(harness)
    harness.load({"name": "parent", "steps": [
        {"type": "util/call", "config": {"transaction_type": "kid-wait", "background": True}},
        {"type": "util/call", "config": {"transaction_type": "kid-a", "background": True}},
        {"type": "util/child-pipeline", "config": {"pipeline": "kid-wait"}},
    ]})
    parent_id = harness.start("parent")
    harness.settle()
    assert len(children_of(parent_id)) == 3
    harness.cancel(parent_id)
    statuses = sorted(child.status for child in children_of(parent_id))
    assert harness.result(parent_id).status == "cancelled"
    assert statuses == ["cancelled", "cancelled", "success"]
    for child in children_of(parent_id):
        if child.status == "cancelled":
            assert harness.result(child.pk).journal[-1].actor == f"parent:{parent_id}"


def test_a_parent_that_times_out_cancels_its_children(harness):
    load_children(harness)
    parent_id = harness.start(parent(harness, "util/child-pipeline", {"pipeline": "kid-wait"}), deadline="PT1H")
    result = harness.run(parent_id)
    assert result.status == "timeout"
    [child] = children_of(parent_id)
    assert child.status == "cancelled"
