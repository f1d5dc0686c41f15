"""The built-ins that wait: util/sleep, util/delay, util/wait-switch and its alias util/wait."""
from datetime import timedelta

import pytest

from engine.errors import InvalidPipeline
from engine.models import PipelineVersion, Transaction
from engine.runtime import faults
from engine.services.pipelines import pipeline_validate


def load_one(harness, step_type, config, on=None):
    step = {"name": "wait", "type": step_type, "config": config}
    if on:
        step["on"] = on
    harness.load({"name": "p", "steps": [step, {"name": "after", "type": "util/echo"}]})


def start_and_settle(harness, step_type, config, data=None, on=None):
    load_one(harness, step_type, config, on)
    tx_id = harness.start("p", data or {})
    harness.settle()
    return tx_id


def went_to_sleep(result):
    return any(entry.kind == "status" and entry.data.get("to") == "sleeping" for entry in result.journal)


# util/sleep ----------------------------------------------------------------------------------


def test_sleep_for_a_duration_releases_the_worker_then_succeeds_with_the_input(harness):
    started = harness.now()
    tx_id = start_and_settle(harness, "util/sleep", {"duration": "PT1H"}, {"a": 1})
    result = harness.result(tx_id)
    assert result.status == "sleeping"
    assert result.sleeper.reason == "timer"
    assert result.sleeper.wake_at == started + timedelta(hours=1)
    harness.advance("PT59M")
    assert harness.result(tx_id).status == "sleeping"
    result = harness.run(tx_id)
    assert result.status == "success"
    assert result.data == {"a": 1}
    assert harness.now() == started + timedelta(hours=1)


def test_a_short_sleep_keeps_the_worker_and_writes_no_sleeper(harness):
    started = harness.now()
    tx_id = start_and_settle(harness, "util/sleep", {"duration": "PT2S"}, {"a": 1})
    result = harness.result(tx_id)
    assert result.status == "success"
    assert not went_to_sleep(result)
    assert result.steps == [("wait", "sleeping"), ("wait", "success"), ("after", "success")]
    assert result.step_runs[1].retry_count == 1
    assert harness.now() == started + timedelta(seconds=2)


def test_a_sleep_just_over_the_short_limit_is_long(harness):
    tx_id = start_and_settle(harness, "util/sleep", {"duration": "PT3S"})
    assert harness.result(tx_id).status == "sleeping"
    assert harness.run(tx_id).status == "success"


def test_sleep_until_a_timestamp_wakes_at_that_moment(harness):
    until = (harness.now() + timedelta(days=3)).isoformat().replace("+00:00", "Z")
    tx_id = start_and_settle(harness, "util/sleep", {"until": until})
    assert harness.result(tx_id).sleeper.wake_at == harness.now() + timedelta(days=3)
    assert harness.run(tx_id).status == "success"


def test_sleep_until_a_past_timestamp_succeeds_at_once(harness):
    tx_id = start_and_settle(harness, "util/sleep", {"until": "2001-01-01T00:00:00Z"})
    result = harness.result(tx_id)
    assert result.status == "success"
    assert result.steps == [("wait", "success"), ("after", "success")]


def test_sleep_reads_its_duration_from_a_dotted_field_of_the_input(harness):
    started = harness.now()
    tx_id = start_and_settle(harness, "util/sleep", {"duration_field": "timing.wait"}, {"timing": {"wait": "P2D"}})
    assert harness.result(tx_id).sleeper.wake_at == started + timedelta(days=2)
    assert harness.run(tx_id).data == {"timing": {"wait": "P2D"}}


def test_sleep_fails_when_the_duration_field_is_absent(harness):
    tx_id = start_and_settle(harness, "util/sleep", {"duration_field": "timing.wait"}, {"other": 1})
    result = harness.result(tx_id)
    assert result.status == "failed"
    assert "timing.wait" in result.note


@pytest.mark.parametrize("config", [
    {},
    {"duration": "PT1M", "until": "2030-01-01T00:00:00Z"},
    {"duration": "PT1M", "duration_field": "d"},
    {"until": "2030-01-01T00:00:00Z", "duration_field": "d"},
])
def test_sleep_needs_exactly_one_of_duration_until_and_duration_field(db, config):
    with pytest.raises(InvalidPipeline) as caught:
        pipeline_validate(definition={"name": "p", "steps": [{"type": "util/sleep", "config": config}]})
    assert all(error.startswith("steps[0].config") for error in caught.value.errors)
    assert not PipelineVersion.objects.exists()


def test_waking_a_sleep_now_ends_it_as_if_its_timer_had_fired(harness):
    started = harness.now()
    tx_id = start_and_settle(harness, "util/sleep", {"duration": "P1D"})
    harness.advance("PT5H")
    harness.wake(tx_id)
    harness.settle()
    result = harness.result(tx_id)
    assert result.status == "success"
    assert harness.now() == started + timedelta(hours=5)
    assert [(run.status, run.retry_count) for run in result.step_runs[:2]] == [("sleeping", 0), ("success", 1)]


def test_another_wake_up_of_a_sleep_does_not_push_its_wake_time_back(harness):
    started = harness.now()
    tx_id = start_and_settle(harness, "util/sleep", {"duration": "P1D"})
    harness.advance("PT5H")
    harness.wake(tx_id)  # a wake-up that is not an operator's "wake now" re-arms the original time
    Transaction.objects.filter(pk=tx_id).update(wake_reason="switch")
    harness.settle()
    result = harness.result(tx_id)
    assert result.status == "sleeping"
    assert result.sleeper.wake_at == started + timedelta(days=1)
    assert harness.run(tx_id).status == "success"
    assert harness.now() == started + timedelta(days=1)


def test_a_worker_lost_during_a_sleep_does_not_push_its_wake_time_back(harness):
    started = harness.now()
    load_one(harness, "util/sleep", {"duration": "PT1H"})
    tx_id = harness.start("p")

    def crash(run):
        if run.step_name == "wait" and run.attempt == 1:
            raise faults.WorkerCrash()

    faults.install(faults.AFTER_STEP_BEFORE_CHECKPOINT, crash)
    with pytest.raises(faults.WorkerCrash):
        harness.settle()
    faults.clear()
    harness.advance("PT1M")
    result = harness.result(tx_id)
    assert result.steps[0] == ("wait", "lost")
    assert result.step_runs[-1].attempt == 2
    assert result.sleeper.wake_at == started + timedelta(hours=1)
    assert harness.run(tx_id).status == "success"
    assert harness.now() == started + timedelta(hours=1)


# util/delay ----------------------------------------------------------------------------------


def test_delay_defaults_to_between_half_a_second_and_ten_seconds(harness):
    started = harness.now()
    tx_id = start_and_settle(harness, "util/delay", {}, {"a": 1})
    result = harness.run(tx_id)
    assert result.status == "success"
    assert result.data == {"a": 1}
    assert timedelta(milliseconds=500) <= harness.now() - started <= timedelta(seconds=10)


def test_delay_uses_min_ms_and_max_ms(harness):
    started = harness.now()
    tx_id = start_and_settle(harness, "util/delay", {"min_ms": 30000, "max_ms": 30000})
    assert harness.result(tx_id).sleeper.wake_at == started + timedelta(seconds=30)
    assert harness.run(tx_id).status == "success"


def test_the_inputs_delay_overrides_min_ms_and_max_ms(harness):
    started = harness.now()
    tx_id = start_and_settle(harness, "util/delay", {"min_ms": 1, "max_ms": 2}, {"delay": 60000})
    assert harness.result(tx_id).sleeper.wake_at == started + timedelta(minutes=1)
    assert harness.run(tx_id).data == {"delay": 60000}


def test_a_delay_of_zero_succeeds_at_once(harness):
    tx_id = start_and_settle(harness, "util/delay", {}, {"delay": 0})
    assert harness.result(tx_id).steps == [("wait", "success"), ("after", "success")]


def test_delay_picks_the_same_time_on_every_run_of_its_visit(harness):
    tx_id = start_and_settle(harness, "util/delay", {"min_ms": 60000, "max_ms": 3600000})
    wake_at = harness.result(tx_id).sleeper.wake_at
    for _ in range(3):
        harness.advance("PT10S")
        harness.wake(tx_id)
        Transaction.objects.filter(pk=tx_id).update(wake_reason="switch")  # not an operator's wake now
        harness.settle()
        assert harness.result(tx_id).sleeper.wake_at == wake_at
    harness.run(tx_id)
    assert harness.now() == wake_at


# util/wait-switch ----------------------------------------------------------------------------


def test_wait_switch_sleeps_on_the_switch_and_succeeds_when_it_turns_truthy(harness):
    tx_id = start_and_settle(harness, "util/wait-switch", {"switch": "approved"}, {"a": 1})
    result = harness.result(tx_id)
    assert (result.status, result.sleeper.reason, result.sleeper.switch) == ("sleeping", "switch", "approved")
    assert result.sleeper.wake_at is None
    for falsy in (False, 0, ""):
        harness.set_switch(tx_id, "approved", falsy)
        harness.settle()
        assert harness.result(tx_id).status == "sleeping"
    assert harness.set_switch(tx_id, "approved", "yes")["action"] == "woken"
    harness.settle()
    result = harness.result(tx_id)
    assert result.status == "success"
    assert result.data == {"a": 1}


def test_wait_switch_set_before_the_step_runs_succeeds_at_once(harness):
    load_one(harness, "util/wait-switch", {"switch": "approved"})
    tx_id = harness.start("p")
    harness.set_switch(tx_id, "approved", True)
    harness.settle()
    assert harness.result(tx_id).steps == [("wait", "success"), ("after", "success")]


@pytest.mark.parametrize("expected, wrong", [("approved", True), (True, 1), (1, True), (False, None)])
def test_wait_switch_with_a_value_waits_for_exactly_that_value(harness, expected, wrong):
    tx_id = start_and_settle(harness, "util/wait-switch", {"switch": "s", "value": expected})
    if wrong is not None:
        harness.set_switch(tx_id, "s", wrong)
        harness.settle()
    assert harness.result(tx_id).status == "sleeping"
    harness.set_switch(tx_id, "s", expected)
    harness.settle()
    assert harness.result(tx_id).status == "success"


def test_wait_switch_on_a_global_switch_is_woken_by_the_owners_switch(harness):
    load_one(harness, "util/wait-switch", {"switch": "backend-up", "scope": "global"})
    tx_ids = [harness.start("p") for _ in range(3)]
    harness.settle()
    assert all(harness.result(tx_id).sleeper.scope == "global" for tx_id in tx_ids)
    assert harness.set_global_switch("backend-up", True)["woken"] == 3
    harness.settle()
    assert {harness.result(tx_id).status for tx_id in tx_ids} == {"success"}


def test_a_transaction_switch_of_the_same_name_does_not_satisfy_a_global_wait(harness):
    tx_id = start_and_settle(harness, "util/wait-switch", {"switch": "backend-up", "scope": "global"})
    harness.set_switch(tx_id, "backend-up", True)
    harness.settle()
    assert harness.result(tx_id).status == "sleeping"


def test_wait_switch_timeout_ends_the_transaction_timeout(harness):
    started = harness.now()
    tx_id = start_and_settle(harness, "util/wait-switch", {"switch": "s", "timeout": "PT1H"}, {"a": 1})
    assert harness.result(tx_id).sleeper.timeout_at == started + timedelta(hours=1)
    result = harness.run(tx_id)
    assert result.status == "timeout"
    assert result.steps[-1] == ("wait", "timeout")
    assert harness.now() == started + timedelta(hours=1)


def test_wait_switch_timeout_is_routable_with_on_timeout(harness):
    harness.load({"name": "p", "steps": [
        {"name": "wait", "type": "util/wait-switch", "config": {"switch": "s", "timeout": "PT1H"},
         "on": {"timeout": "escalate"}},
        {"name": "done", "type": "util/fixed-reply", "config": {"reply": {"approved": True}}},
        {"name": "escalate", "type": "util/set", "config": {"values": {"escalated": True}}},
    ]})
    result = harness.run(harness.start("p", {"a": 1}))
    assert result.status == "success"
    assert result.steps[-2:] == [("wait", "timeout"), ("escalate", "success")]
    assert result.data == {"a": 1, "escalated": True}


def test_wait_switch_timeout_is_measured_from_the_first_run(harness):
    started = harness.now()
    tx_id = start_and_settle(harness, "util/wait-switch", {"switch": "s", "timeout": "PT1H"})
    harness.advance("PT40M")
    harness.set_switch(tx_id, "s", False)
    harness.advance("PT10M")
    harness.wake(tx_id)
    harness.settle()
    assert harness.result(tx_id).sleeper.timeout_at == started + timedelta(hours=1)
    assert harness.run(tx_id).status == "timeout"
    assert harness.now() == started + timedelta(hours=1)


def test_util_wait_is_an_alias_of_wait_switch(harness):
    version = harness.load({"name": "p", "steps": [{"type": "util/wait", "config": {"switch": "go"}}]})[0]
    assert version.definition["steps"][0]["type"] == "util/wait-switch"
    tx_id = harness.start("p")
    harness.settle()
    assert harness.result(tx_id).sleeper.switch == "go"
    harness.set_switch(tx_id, "go", True)
    harness.settle()
    assert harness.result(tx_id).status == "success"


def test_util_wait_validates_its_config_like_wait_switch(db):
    with pytest.raises(InvalidPipeline) as caught:
        pipeline_validate(definition={"name": "p", "steps": [{"type": "util/wait", "config": {"timeout": "PT1H"}}]})
    assert any(error.startswith("steps[0].config") and "switch" in error for error in caught.value.errors)
    assert not PipelineVersion.objects.exists()


@pytest.mark.parametrize("step_type, config, data", [
    ("util/sleep", {"duration_field": "wait"}, {"wait": "P9000Y"}),
    ("util/sleep", {"duration_field": "wait"}, {"wait": "P1000000Y"}),
    ("util/delay", {}, {"delay": 10 ** 30}),
])
def test_a_wait_from_the_input_that_no_datetime_can_hold_fails_the_step(harness, step_type, config, data):
    result = harness.result(start_and_settle(harness, step_type, config, data))
    assert result.status == "failed" and result.sleeper is None
