"""Switches (spec/concepts.md): latching, the unread flag, wake-ups, validation, the journal, and
global switches that wake every waiter of their owner in bounded batches."""
import pytest

from engine.errors import InvalidRequest, TransactionFinished
from engine.models import GlobalSwitchChange, JournalEntry, Sleeper, Switch
from engine.services import switches
from engine.services.owners import owner_ensure
from engine.steps import Step, register


@register
class WaitFor(Step):
    """Succeed once the switch in config is truthy; sleep on it otherwise."""

    type_name = "test/switches-wait"

    def invoke(self, ctx):
        scope = ctx.config.get("scope", "transaction")
        if ctx.get_switch(ctx.config["switch"], scope=scope):
            return ctx.succeeded(output={"seen": ctx.get_switch(ctx.config["switch"], scope=scope)})
        return ctx.retry_later(switch=ctx.config["switch"], scope=scope)


@register
class SetMidway(Step):
    """On its first run, have someone else set `go` while it runs (optionally reading it), then wait on it."""

    type_name = "test/switches-set-midway"

    def invoke(self, ctx):
        if ctx.retry_count == 0:
            switches.switch_set(tx_id=ctx.tx_id, name="go", value=True, actor="user:bob")
            if ctx.config.get("read"):
                ctx.get_switch("go")
            return ctx.retry_later(switch="go")
        return ctx.succeeded(output={"go": ctx.get_switch("go")})


@register
class SetGlobalMidway(Step):
    """Read the global switch, have an operator set it while running, then wait on it."""

    type_name = "test/switches-set-global-midway"

    def invoke(self, ctx):
        if ctx.get_switch("up", scope="global"):
            return ctx.succeeded()
        switches.global_switch_set(owner=ctx.owner, name="up", value=True, actor="user:ops")
        return ctx.retry_later(switch="up", scope="global")


@register
class BareWait(Step):
    """Wait on `go` with ctx.wait (no fallback timer); succeed once it is set."""

    type_name = "test/switches-bare-wait"

    def invoke(self, ctx):
        if ctx.get_switch("go"):
            return ctx.succeeded()
        return ctx.wait(switch="go")


@register
class StepSets(Step):
    type_name = "test/switches-step-sets"

    def invoke(self, ctx):
        ctx.set_switch("flag", "from-step", reason="done")
        return ctx.succeeded()


def waiting(harness, switch="go", scope="transaction", owner=None, name="waits"):
    harness.load({"name": name, "steps": [
        {"name": "wait", "type": "test/switches-wait", "config": {"switch": switch, "scope": scope}}]})
    kwargs = {"owner": owner} if owner else {}
    return harness.start(name, {}, **kwargs)


def asleep(harness, **kwargs):
    tx_id = waiting(harness, **kwargs)
    harness.settle()
    assert harness.result(tx_id).status == "sleeping"
    return tx_id


def switch_entries(tx_id):
    return list(JournalEntry.objects.filter(tx_id=tx_id, kind="switch").order_by("id"))


def test_switch_set_before_wait_is_latched(harness):
    tx_id = waiting(harness)
    assert harness.set_switch(tx_id, "go", True)["action"] == "updated"
    result = harness.run(tx_id)
    assert result.status == "success"
    assert result.steps == [("wait", "success")]
    assert not [e for e in result.journal if e.data.get("to") == "sleeping"]


def test_setting_the_awaited_switch_wakes_the_transaction_at_once(harness):
    tx_id = asleep(harness)
    reply = harness.set_switch(tx_id, "go", "yes")
    assert reply["action"] == "woken"
    assert reply["switch"]["value"] == "yes"
    result = harness.result(tx_id)
    assert result.status == "queued"
    assert not Sleeper.objects.filter(tx_id=tx_id).exists()
    woken = [e for e in result.journal if e.kind == "woken"]
    assert len(woken) == 1 and woken[0].actor == "app:test"
    result = harness.run(tx_id)
    assert result.status == "success" and result.data == {"seen": "yes"}
    assert [run.retry_count for run in result.step_runs] == [0, 1]


def test_a_wait_on_a_switch_alone_holds_no_timer(harness):
    harness.load({"name": "no-timer", "steps": [{"name": "w", "type": "test/switches-bare-wait"}]})
    tx_id = harness.start("no-timer", {})
    started = harness.now()
    result = harness.run(tx_id)
    assert result.status == "sleeping"
    assert result.sleeper.wake_at is None and result.sleeper.timeout_at is None
    assert harness.now() == started
    harness.set_switch(tx_id, "go", True)
    assert harness.run(tx_id).status == "success"


def test_setting_another_switch_does_not_wake(harness):
    tx_id = asleep(harness)
    assert harness.set_switch(tx_id, "other", True)["action"] == "updated"
    assert harness.result(tx_id).status == "sleeping"


def test_a_switch_set_while_the_step_runs_requeues_instead_of_sleeping(harness):
    harness.load({"name": "race", "steps": [{"name": "s", "type": "test/switches-set-midway"}]})
    tx_id = harness.start("race", {})
    harness.settle()
    result = harness.result(tx_id)
    assert result.status == "success"
    assert result.data == {"go": True}
    assert result.steps == [("s", "sleeping"), ("s", "success")]
    assert not [e for e in result.journal if e.data.get("to") == "sleeping"]
    requeued = [e for e in result.journal if e.data.get("to") == "queued"]
    assert "changed while the step ran" in requeued[0].data["why"]


def test_a_change_the_step_has_read_does_not_requeue_it(harness):
    harness.load({"name": "race-read", "steps": [
        {"name": "s", "type": "test/switches-set-midway", "config": {"read": True}}]})
    tx_id = harness.start("race-read", {})
    harness.settle()
    result = harness.result(tx_id)
    assert result.status == "sleeping"
    assert result.sleeper.switch == "go"


def test_a_global_switch_set_while_the_step_runs_requeues_it(harness):
    harness.load({"name": "race-global", "steps": [{"name": "s", "type": "test/switches-set-global-midway"}]})
    tx_id = harness.start("race-global", {})
    harness.settle()
    result = harness.result(tx_id)
    assert result.status == "success"
    assert result.steps == [("s", "sleeping"), ("s", "success")]


def test_setting_the_same_value_changes_nothing_and_wakes_nothing(harness):
    tx_id = asleep(harness)
    assert harness.set_switch(tx_id, "go", False)["action"] == "woken"
    harness.settle()
    assert harness.result(tx_id).status == "sleeping"
    entries = len(harness.result(tx_id).journal)
    reply = harness.set_switch(tx_id, "go", False)
    assert reply["action"] == "unchanged"
    result = harness.result(tx_id)
    assert result.status == "sleeping"
    assert len(result.journal) == entries


def test_a_value_of_another_json_type_is_a_change(harness):
    tx_id = waiting(harness)
    harness.set_switch(tx_id, "n", 1)
    assert harness.set_switch(tx_id, "n", True)["action"] == "updated"
    assert harness.set_switch(tx_id, "n", "1")["action"] == "updated"


def test_a_switch_of_a_finished_transaction_cannot_change(harness):
    tx_id = waiting(harness)
    harness.set_switch(tx_id, "go", True)
    assert harness.run(tx_id).status == "success"
    with pytest.raises(TransactionFinished) as raised:
        harness.set_switch(tx_id, "go", False)
    assert raised.value.code == "transaction_finished"
    assert raised.value.http_status == 409
    assert harness.result(tx_id).switches == {"go": True}


@pytest.mark.parametrize("name", ["", "-lead", "has space", "a" * 65, "ümlaut", 7, None])
def test_a_bad_switch_name_is_refused_and_nothing_changes(harness, name):
    tx_id = waiting(harness)
    with pytest.raises(InvalidRequest) as raised:
        harness.set_switch(tx_id, name, True)
    assert raised.value.code == "invalid_request"
    assert not Switch.objects.exists()
    assert not switch_entries(tx_id)


@pytest.mark.parametrize("value", [[1], {"a": 1}, "x" * 1025, float("nan"), float("inf")])
def test_a_bad_switch_value_is_refused_and_nothing_changes(harness, value):
    tx_id = asleep(harness)
    with pytest.raises(InvalidRequest) as raised:
        harness.set_switch(tx_id, "go", value)
    assert raised.value.code == "invalid_request"
    assert not Switch.objects.exists()
    assert harness.result(tx_id).status == "sleeping"


@pytest.mark.parametrize("value", [True, False, 0, 3.5, "", "x" * 1024])
def test_scalar_values_are_accepted(harness, value):
    tx_id = waiting(harness)
    assert harness.set_switch(tx_id, "any.name:1_-", value)["action"] == "updated"
    assert harness.result(tx_id).switches == {"any.name:1_-": value}


def test_null_clears_a_switch(harness):
    tx_id = waiting(harness)
    assert harness.set_switch(tx_id, "never-set", None)["action"] == "unchanged"
    harness.set_switch(tx_id, "go", "on")
    assert harness.set_switch(tx_id, "go", None)["action"] == "updated"
    assert switches.switch_read(tx_id=tx_id, name="go") is None
    harness.settle()
    assert harness.result(tx_id).status == "sleeping"


def test_each_change_is_journaled_with_actor_channel_and_reason(harness):
    tx_id = waiting(harness)
    switches.switch_set(tx_id=tx_id, name="go", value=True, actor="user:alice", channel="console",
                        reason="approved by phone")
    [entry] = switch_entries(tx_id)
    assert entry.actor == "user:alice"
    assert entry.data == {"name": "go", "value": True, "channel": "console", "reason": "approved by phone"}
    assert entry.at == harness.now()


def test_a_step_setting_a_switch_is_journaled_as_the_step(harness):
    harness.load({"name": "step-sets", "steps": [{"name": "setter", "type": "test/switches-step-sets"}]})
    tx_id = harness.start("step-sets", {})
    assert harness.run(tx_id).switches == {"flag": "from-step"}
    [entry] = switch_entries(tx_id)
    assert entry.actor == "step:setter"
    assert entry.data["channel"] == "step" and entry.data["reason"] == "done"


def test_a_transaction_switch_does_not_wake_a_global_waiter_of_that_name(harness):
    tx_id = asleep(harness, switch="backend-up", scope="global")
    assert harness.set_switch(tx_id, "backend-up", True)["action"] == "updated"
    assert harness.result(tx_id).status == "sleeping"


def test_a_global_switch_wakes_every_waiter_of_its_owner_and_no_other(harness):
    owner_ensure(name="other")
    mine = [waiting(harness, switch="backend-up", scope="global") for _ in range(3)]
    theirs = waiting(harness, switch="backend-up", scope="global", owner="other")
    harness.settle()
    reply = harness.set_global_switch("backend-up", True, reason="maintenance over")
    assert reply["action"] == "woken"
    assert reply["woken"] == 3
    for tx_id in mine:
        woken = [e for e in harness.result(tx_id).journal if e.kind == "woken"]
        assert len(woken) == 1 and woken[0].actor == "app:test"
        assert harness.result(tx_id).status == "queued"
    assert harness.result(theirs).status == "sleeping"
    change = GlobalSwitchChange.objects.get(switch__owner_id="test")
    assert (change.woken, change.actor, change.reason) == (3, "app:test", "maintenance over")
    harness.settle()
    assert [harness.result(tx_id).status for tx_id in mine] == ["success"] * 3
    assert harness.result(theirs).status == "sleeping"


def test_global_wake_ups_come_in_batches_and_all_are_counted(harness, settings):
    settings.DATP = {**settings.DATP, "GLOBAL_WAKE_BATCH": 2}
    waiters = [waiting(harness, switch="up", scope="global") for _ in range(5)]
    harness.settle()
    assert harness.set_global_switch("up", True)["woken"] == 5
    assert [harness.result(tx_id).status for tx_id in waiters] == ["queued"] * 5
    assert not Sleeper.objects.exists()


def test_a_global_switch_set_before_the_wait_is_latched(harness):
    assert harness.set_global_switch("up", True)["action"] == "updated"
    tx_id = waiting(harness, switch="up", scope="global")
    result = harness.run(tx_id)
    assert result.status == "success"
    assert result.steps == [("wait", "success")]


def test_setting_a_global_switch_to_its_value_wakes_nothing(harness):
    harness.set_global_switch("up", False)
    tx_id = asleep(harness, switch="up", scope="global")
    reply = harness.set_global_switch("up", False)
    assert reply["action"] == "unchanged" and reply["woken"] == 0
    assert harness.result(tx_id).status == "sleeping"
    assert GlobalSwitchChange.objects.count() == 1
