"""util/choice routed by named outcomes, and settings taken from the data, run end to end (issue 18)."""
from datetime import timedelta

import pytest

from engine.errors import InvalidPipeline

EXPENSE = {"name": "expense", "steps": [
    {"name": "decide", "type": "util/choice", "config": {
        "rules": [{"when": {"path": "/amount", "gt": 1000}, "outcome": "review", "description": "large"},
                  {"when": {"all": [{"path": "/amount", "gt": 0}, {"path": "/receipt", "exists": True}]},
                   "outcome": "approve"}],
        "default": "reject"},
     "on": {"approve": "pay", "review": "approval", "reject": "end"}},
    {"name": "approval", "type": "util/wait-switch", "config": {"switch": "approved", "timeout": "P2D"},
     "on": {"timeout": "end", "success": "pay"}},
    {"name": "pay", "type": "util/set", "config": {"values": {"paid": True}}},
]}


def test_a_small_expense_with_a_receipt_is_approved_and_paid(harness):
    harness.load(EXPENSE)
    result = harness.run(harness.start("expense", {"amount": 40, "receipt": "r-1"}))
    assert (result.status, result.data) == ("success", {"amount": 40, "receipt": "r-1", "paid": True})
    assert result.steps == [("decide", "approve"), ("pay", "success")]
    assert result.runs("decide")[0].note == "rule 2 (/amount > 0 and /receipt exists): 'approve'"


def test_a_rejected_expense_ends_success_without_an_aborted_step(harness):
    harness.load(EXPENSE)
    result = harness.run(harness.start("expense", {"amount": 40}))
    assert result.status == "success" and "paid" not in result.data
    assert result.steps == [("decide", "reject")]
    assert result.runs("decide")[0].note == "no rule held: default 'reject'"


def test_a_large_expense_waits_for_review_and_ends_at_its_timeout(harness):
    harness.load(EXPENSE)
    tx_id = harness.start("expense", {"amount": 5000, "receipt": "r-2"})
    result = harness.run(tx_id)
    assert result.status == "success"
    assert result.steps == [("decide", "review"), ("approval", "sleeping"), ("approval", "timeout")]
    assert result.runs("decide")[0].note == "rule 1 (large): 'review'"


def test_a_route_on_an_outcome_the_rules_cannot_give_is_refused_at_its_path(harness):
    typo = {**EXPENSE, "steps": [{**EXPENSE["steps"][0], "on": {"aprove": "pay", "reject": "end"}},
                                 *EXPENSE["steps"][1:]]}
    with pytest.raises(InvalidPipeline) as raised:
        harness.load(typo)
    [problem] = raised.value.errors
    assert problem.startswith("steps[0].on.aprove: unknown outcome 'aprove' of util/choice")
    assert "did you mean `approve`?" in problem


def test_a_bad_rule_is_refused_at_its_path_in_the_config(harness):
    bad = {"name": "bad", "steps": [{"type": "util/choice", "config": {
        "rules": [{"when": {"path": "amount", "gt": 1}, "outcome": "internal_error"}], "default": "no"}}]}
    with pytest.raises(InvalidPipeline) as raised:
        harness.load(bad)
    assert [e.split(":")[0] for e in raised.value.errors] == [
        "steps[0].config.rules[0].when.path", "steps[0].config.rules[0].outcome"]
    assert raised.value.errors[1].endswith("'internal_error' is a step run status, not an outcome a step may end with")


TRIAL = {"name": "trial", "steps": [
    {"name": "trial", "type": "util/sleep", "config": {"duration": {"from": "/customer/trial_period"}}},
    {"name": "bill", "type": "util/set", "config": {"values": {"billed": True}}},
]}


def test_a_sleep_takes_its_duration_from_the_data(harness):
    harness.load(TRIAL)
    tx_id = harness.start("trial", {"customer": {"trial_period": "P14D"}})
    started = harness.now()
    harness.advance("P13D")
    assert harness.result(tx_id).status == "sleeping"
    result = harness.run(tx_id)
    assert result.status == "success" and result.data["billed"] is True
    assert (harness.now() - started).days == 14


@pytest.mark.parametrize(("data", "problem"), [
    ({"customer": {}}, "setting `duration` from `/customer/trial_period`: no value at that path"),
    ({"customer": {"trial_period": "two weeks"}}, "setting `duration` from `/customer/trial_period`: "),
])
def test_a_setting_missing_or_invalid_in_the_data_fails_the_step_once_not_retried(harness, data, problem):
    harness.load({**TRIAL, "name": "trial-retry",
                  "steps": [{**TRIAL["steps"][0], "retry": {"max_attempts": 5}}, TRIAL["steps"][1]]})
    result = harness.run(harness.start("trial-retry", data))
    assert result.status == "failed"
    assert result.steps == [("trial", "failed")]
    assert problem in result.note
    assert [e.data["reason"] for e in result.journal if e.kind == "not_retried"] != []


def test_a_misspelt_pointer_is_refused_at_load(harness):
    with pytest.raises(InvalidPipeline) as raised:
        harness.load({"name": "p", "steps": [{"type": "util/sleep", "config": {"duration": {"from": "trial"}}}]})
    assert raised.value.errors[0].startswith("steps[0].config.duration.from: 'trial' is not a JSON pointer")


def test_a_switch_name_and_its_timeout_come_from_the_data(harness):
    harness.load({"name": "gate", "steps": [{"name": "gate", "type": "util/wait-switch", "config": {
        "switch": {"from": "/gate/switch"}, "timeout": {"from": "/gate/within"}}, "on": {"timeout": "end"}}]})
    opened = harness.start("gate", {"gate": {"switch": "released", "within": "PT1H"}})
    harness.settle()
    assert harness.result(opened).sleeper.switch == "released"
    harness.set_switch(opened, "released", True)
    assert harness.run(opened).steps == [("gate", "sleeping"), ("gate", "success")]
    silent = harness.start("gate", {"gate": {"switch": "released", "within": "PT1H"}})
    started = harness.now()
    assert harness.run(silent).steps == [("gate", "sleeping"), ("gate", "timeout")]
    assert harness.now() - started == timedelta(hours=1)
    bad = harness.run(harness.start("gate", {"gate": {"switch": "no spaces allowed", "within": "PT1H"}}))
    assert bad.status == "failed" and "setting `switch` from `/gate/switch`: " in bad.note


def test_a_child_pipeline_named_by_the_data_runs_and_an_unknown_one_fails_the_step(harness):
    harness.load({"name": "kid", "transaction_type": False, "steps": [{"type": "util/set", "config": {
                  "values": {"by": "kid"}}}]},
                 {"name": "parent", "steps": [{"name": "call", "type": "util/child-pipeline",
                                               "config": {"pipeline": {"from": "/kind"}}}]})
    ran = harness.run(harness.start("parent", {"kind": "kid"}))
    assert ran.status == "success" and ran.data["by"] == "kid"
    missing = harness.run(harness.start("parent", {}))
    assert missing.status == "failed" and "setting `pipeline` from `/kind`: no value at that path" in missing.note


def test_a_child_pipeline_from_the_data_that_does_not_exist_fails_the_step_with_its_name(harness):
    harness.load({"name": "parent2", "steps": [{"name": "call", "type": "util/child-pipeline",
                                                "config": {"pipeline": {"from": "/kind"}}}]})
    harness.load({"name": "parent3", "steps": [{"name": "call", "type": "util/child-pipeline",
                                                "config": {"pipeline": {"from": "/kind"}}, "retry": {}}]})
    for name in ("parent2", "parent3"):  # with or without a retry policy: run once, not retried
        result = harness.run(harness.start(name, {"kind": "nope"}))
        assert (result.status, result.steps) == ("failed", [("call", "failed")])
        assert result.note.startswith("PermanentError: No pipeline named 'nope' to start as a child")
