"""The built-ins that finish at once: echo, set, fixed-reply, mandatory-fields, fail, progress."""
import pytest

from engine.models import Sleeper


def one_step(harness, step_type, config=None, name="p"):
    step = {"name": "only", "type": step_type}
    if config is not None:
        step["config"] = config
    harness.load({"name": name, "steps": [step]})
    return name


def run_one(harness, step_type, config=None, data=None):
    tx_id = harness.start(one_step(harness, step_type, config), data or {})
    return harness.run(tx_id)


# util/echo -----------------------------------------------------------------------------------


def test_echo_succeeds_at_once_with_the_input_as_output(harness):
    result = run_one(harness, "util/echo", data={"a": 1, "b": {"c": [1, 2]}})
    assert result.status == "success"
    assert result.data == {"a": 1, "b": {"c": [1, 2]}}
    assert result.steps == [("only", "success")]
    assert not Sleeper.objects.exists()


def test_echo_passes_the_previous_steps_output_on(harness):
    harness.load({"name": "p", "steps": [
        {"type": "util/set", "config": {"values": {"x": 1}}},
        {"type": "util/echo"},
    ]})
    result = harness.run(harness.start("p", {"a": 0}))
    assert result.status == "success"
    assert result.data == {"a": 0, "x": 1}
    assert [run.input for run in result.step_runs] == [{"a": 0}, {"a": 0, "x": 1}]


# util/set ------------------------------------------------------------------------------------


def test_set_deep_merges_values_into_the_input(harness):
    result = run_one(
        harness, "util/set",
        {"values": {"order": {"state": "paid", "lines": [3]}, "flag": True}},
        data={"order": {"id": 7, "state": "new", "lines": [1, 2]}, "keep": "me"},
    )
    assert result.status == "success"
    assert result.data == {
        "order": {"id": 7, "state": "paid", "lines": [3]},
        "keep": "me",
        "flag": True,
    }


def test_set_replaces_a_scalar_with_an_object_and_an_object_with_a_scalar(harness):
    result = run_one(harness, "util/set", {"values": {"a": {"x": 1}, "b": 2}}, data={"a": 5, "b": {"y": 1}})
    assert result.data == {"a": {"x": 1}, "b": 2}


# util/fixed-reply ----------------------------------------------------------------------------


def test_fixed_reply_succeeds_with_its_reply_and_note(harness):
    result = run_one(harness, "util/fixed-reply", {"reply": {"ok": True}, "note": "All good"}, data={"in": 1})
    assert result.status == "success"
    assert result.data == {"ok": True}
    assert result.note == "All good"
    assert result.step_runs[0].note == "All good"


def test_fixed_reply_defaults_to_an_empty_reply_and_success(harness):
    result = run_one(harness, "util/fixed-reply", {}, data={"in": 1})
    assert result.status == "success"
    assert result.data == {}


@pytest.mark.parametrize("status", ["failed", "aborted"])
def test_fixed_reply_ends_the_step_with_its_status(harness, status):
    result = run_one(harness, "util/fixed-reply", {"status": status, "note": "No", "reply": {"why": "x"}})
    assert result.status == status
    assert result.note == "No"
    assert result.data == {"why": "x"}
    assert result.steps == [("only", status)]


def test_fixed_reply_failed_status_is_routable(harness):
    harness.load({"name": "p", "steps": [
        {"name": "no", "type": "util/fixed-reply", "config": {"status": "failed", "reply": {"r": 1}},
         "on": {"failed": "after"}},
        {"name": "skipped", "type": "util/fail"},
        {"name": "after", "type": "util/set", "config": {"values": {"routed": True}}},
    ]})
    result = harness.run(harness.start("p"))
    assert result.status == "success"
    assert result.data == {"r": 1, "routed": True}
    assert result.steps == [("no", "failed"), ("after", "success")]


# util/mandatory-fields -----------------------------------------------------------------------


def test_mandatory_fields_passes_the_input_when_every_path_is_present(harness):
    data = {"order_id": 1, "customer": {"address": {"zip": "1000"}}, "zero": 0, "empty": ""}
    result = run_one(harness, "util/mandatory-fields",
                     {"fields": ["order_id", "customer.address.zip", "zero", "empty"]}, data=data)
    assert result.status == "success"
    assert result.data == data


def test_mandatory_fields_fails_listing_absent_and_null_paths(harness):
    data = {"order_id": None, "customer": {"name": "Ann"}, "amount": 10}
    result = run_one(harness, "util/mandatory-fields",
                     {"fields": ["order_id", "customer.name", "customer.address.zip", "amount", "currency"]},
                     data=data)
    assert result.status == "failed"
    assert result.note == "Missing fields"
    assert result.data == {"missing": ["order_id", "customer.address.zip", "currency"]}


def test_mandatory_fields_does_not_descend_into_a_scalar(harness):
    result = run_one(harness, "util/mandatory-fields", {"fields": ["a.b"]}, data={"a": "text"})
    assert result.status == "failed"
    assert result.data == {"missing": ["a.b"]}


# util/fail -----------------------------------------------------------------------------------


def test_fail_ends_failed_with_its_note_and_output(harness):
    result = run_one(harness, "util/fail", {"note": "Nope", "output": {"code": 42}}, data={"in": 1})
    assert result.status == "failed"
    assert result.note == "Nope"
    assert result.data == {"code": 42}
    assert result.steps == [("only", "failed")]


def test_fail_stops_the_pipeline_before_the_next_step(harness):
    harness.load({"name": "p", "steps": [
        {"name": "boom", "type": "util/fail", "config": {"note": "stop"}},
        {"name": "never", "type": "util/echo"},
    ]})
    result = harness.run(harness.start("p"))
    assert result.status == "failed"
    assert result.steps == [("boom", "failed")]


def test_fail_journals_the_step_as_the_actor_of_the_end(harness):
    result = run_one(harness, "util/fail", {"note": "Nope"})
    last = result.journal[-1]
    assert (last.kind, last.actor, last.data["to"]) == ("status", "step:only", "failed")


# util/progress -------------------------------------------------------------------------------


def test_progress_sets_the_report_succeeds_and_passes_the_input(harness):
    result = run_one(harness, "util/progress", {"report": {"percent": 50, "stage": "half"}}, data={"a": 1})
    assert result.status == "success"
    assert result.data == {"a": 1}
    assert result.tx.progress == {"percent": 50, "stage": "half"}


def test_progress_replaces_the_previous_report(harness):
    harness.load({"name": "p", "steps": [
        {"type": "util/progress", "config": {"report": {"percent": 10, "stage": "start"}}},
        {"type": "util/progress", "config": {"report": {"percent": 90}}},
    ]})
    result = harness.run(harness.start("p", {"k": "v"}))
    assert result.status == "success"
    assert result.tx.progress == {"percent": 90}
    assert result.data == {"k": "v"}
