"""Rewind (issue 22): a transaction of each status goes back to an earlier step with the data it had there, or
onto another version; what the abandoned steps opened is cancelled; the first finish's webhook is not sent
again unless asked; and every refusal is typed and changes nothing."""
import copy

import pytest

from engine.errors import (
    DeadlinePassed,
    EndReported,
    InvalidRequest,
    ParentFinished,
    StepNotInVersion,
    StepNotRun,
    TransactionRunning,
    VersionNotFound,
)
from engine.models import Callback, JournalEntry, Transaction, WebhookDelivery
from engine.services import rewind
from engine.steps import Step, register

CALLS = []


@register
class Charge(Step):
    """Charge: fails with "bug" unless config `fixed`; records each call."""

    type_name = "test/rewind-charge"

    def invoke(self, ctx):
        CALLS.append((ctx.tx_id, ctx.step_name, dict(ctx.input)))
        if not ctx.config.get("fixed"):
            return ctx.failed("bug in charge")
        return ctx.succeeded(output={**ctx.input, "charged": ctx.config.get("amount", 1)})


@register
class RewindSelf(Step):
    """Try to rewind its own (running) transaction and report the error's code."""

    type_name = "test/rewind-self"

    def invoke(self, ctx):
        try:
            rewind.transaction_rewind(tx_id=ctx.tx_id, to_step="prepare", actor="test")
        except TransactionRunning as exc:
            return ctx.succeeded(output={"refused": exc.code})
        return ctx.succeeded(output={"refused": None})


@register
class EndAs(Step):
    """End as the input's `end` says (success, failed, aborted, raise), or sleep on the switch `hold`."""

    type_name = "test/rewind-end"

    def invoke(self, ctx):
        end = ctx.input.get("end")
        if end == "raise":
            raise RuntimeError("boom")
        if end == "sleep":
            return ctx.wait(switch="hold")
        if end == "success":
            return ctx.succeeded(output={"ended": end})
        return getattr(ctx, end)(f"ended {end}", output={"ended": end})


PIPELINE = {
    "name": "rw-order",
    "steps": [
        {"name": "prepare", "type": "util/set", "config": {"values": {"prepared": True}}},
        {"name": "charge", "type": "test/rewind-charge", "config": {}},
        {"name": "approve", "type": "util/wait-switch", "config": {"switch": "approved"}},
        {"name": "ship", "type": "util/set", "config": {"values": {"shipped": True}}},
    ],
}


def fixed(amount=1):
    definition = copy.deepcopy(PIPELINE)
    definition["steps"][1]["config"] = {"fixed": True, "amount": amount}
    return definition


@pytest.fixture(autouse=True)
def _calls():
    CALLS.clear()


def _entries(tx_id, kind):
    return [entry.data for entry in JournalEntry.objects.filter(tx_id=tx_id, kind=kind).order_by("id")]


def test_a_failed_transaction_runs_again_from_its_failed_step_on_the_fixed_version(harness):
    [old] = harness.load(PIPELINE)
    tx = harness.start("rw-order", {"order": 7})
    assert harness.run(tx).status == "failed"
    [new] = harness.load(fixed(amount=5))
    harness.rewind(tx, to_step="charge", version="current", reason="bug 4711 fixed")
    row = Transaction.objects.get(pk=tx)
    assert (row.status, row.step_name, row.version_id, row.output) == ("queued", "charge", new.pk, None)
    harness.run(tx)
    harness.set_switch(tx, "approved", True)
    result = harness.run(tx)
    assert result.status == "success"
    assert result.data == {"order": 7, "prepared": True, "charged": 5, "shipped": True}
    # charge ran twice, both times with the data it had before its first run; prepare ran once
    assert [call[2] for call in CALLS] == [{"order": 7, "prepared": True}] * 2
    assert [step for step, _ in result.steps] == ["prepare", "charge", "charge", "approve", "approve", "ship"]
    [entry] = _entries(tx, "rewind")
    assert entry["from"] == "failed" and entry["from_step"] == "charge" and entry["from_version"] == old.pk
    assert entry["version"] == new.pk and entry["reason"] == "bug 4711 fixed" and entry["data_from"].startswith(
        "step run ")
    assert JournalEntry.objects.get(tx_id=tx, kind="rewind").actor == "app:test"


def test_a_successful_transaction_goes_back_to_an_earlier_step_and_finishes_again(harness):
    harness.load(fixed())
    tx = harness.start("rw-order", {"order": 1})
    harness.run(tx)
    harness.set_switch(tx, "approved", True)
    assert harness.run(tx).status == "success"
    harness.rewind(tx, to_step="charge", data={"order": 1, "prepared": True, "again": True})
    result = harness.run(tx)
    assert result.status == "success"  # the switch is still set: approve goes on at once
    assert result.data["again"] is True
    assert CALLS[-1][2] == {"order": 1, "prepared": True, "again": True}
    assert _entries(tx, "rewind")[0]["data_from"] == "given"


def test_a_sleeping_transaction_leaves_its_wait_and_runs_from_the_step_chosen(harness):
    harness.load(fixed())
    tx = harness.start("rw-order", {"order": 2})
    result = harness.run(tx)
    assert result.status == "sleeping" and result.sleeper.reason == "switch"
    harness.rewind(tx, to_step="prepare")
    assert harness.result(tx).sleeper is None
    assert Transaction.objects.get(pk=tx).status == "queued"
    result = harness.run(tx)
    assert result.status == "sleeping"
    assert [step for step, _ in result.steps] == ["prepare", "charge", "approve", "prepare", "charge", "approve"]
    assert result.runs("prepare")[1].input == {"order": 2}  # as prepare first had it
    assert _entries(tx, "rewind")[0]["from"] == "sleeping"


def test_a_queued_transaction_moves_to_another_step_before_it_runs(harness):
    harness.load(fixed())
    tx = harness.start("rw-order", {"order": 3})
    harness.rewind(tx, to_step="prepare", reason="nothing ran yet")  # the first step: the transaction's input
    assert _entries(tx, "rewind")[0]["data_from"] == "transaction input"
    with pytest.raises(StepNotRun):
        harness.rewind(tx, to_step="ship")
    harness.rewind(tx, to_step="ship", data={"skip": True})
    result = harness.run(tx)
    assert result.status == "success" and result.data == {"skip": True, "shipped": True}
    assert [step for step, _ in result.steps] == ["ship"]


def test_what_the_abandoned_step_opened_is_cancelled(harness):
    harness.load({"name": "rw-await", "steps": [
        {"name": "start", "type": "util/callback", "config": {"name": "partner"}},
        {"name": "await", "type": "util/await", "config": {"callback": "partner"}},
    ]})
    tx = harness.start("rw-await", {})
    assert harness.run(tx).status == "sleeping"
    harness.rewind(tx, to_step="start")
    assert Callback.objects.get(tx_id=tx, name="partner").status == "cancel"
    last = JournalEntry.objects.filter(tx_id=tx).order_by("-id")
    assert [entry.kind for entry in last[:2]] == ["callback", "rewind"]  # the cancelled callback woke nothing
    assert Transaction.objects.get(pk=tx).status == "queued"
    assert harness.run(tx).status == "sleeping"  # a fresh callback was opened
    assert Callback.objects.get(tx_id=tx, name="partner").status == "created"


def test_a_child_whose_parent_finished_is_refused_and_an_ended_child_is_not_taken_back(harness):
    harness.load(
        {"name": "rw-child", "transaction_type": False, "steps": [
            {"name": "wait", "type": "util/wait-switch", "config": {"switch": "go"}}]},
        {"name": "rw-parent", "steps": [
            {"name": "child", "type": "util/child-pipeline", "config": {"pipeline": "rw-child"}}]},
    )
    parent = harness.start("rw-parent", {})
    [child] = harness.run(parent).children
    harness.set_switch(child.tx.pk, "go", True)
    assert harness.run(parent).status == "success"
    with pytest.raises(ParentFinished) as refused:
        harness.rewind(child.tx.pk, to_step="wait")
    assert refused.value.http_status == 409 and refused.value.code == "parent_finished"

    harness.load({"name": "rw-parent2", "steps": [
        {"name": "child", "type": "util/child-pipeline", "config": {"pipeline": "rw-child"}},
        {"name": "hold", "type": "util/wait-switch", "config": {"switch": "hold"}}]})
    other = harness.start("rw-parent2", {})
    [child] = harness.run(other).children
    harness.set_switch(child.tx.pk, "go", True)
    assert harness.run(other).status == "sleeping"  # the parent was told, and went on to its next step
    with pytest.raises(EndReported) as refused:
        harness.rewind(child.tx.pk, to_step="wait")
    assert refused.value.code == "end_reported"


def test_a_running_transaction_is_refused(harness):
    harness.load({"name": "rw-self", "steps": [
        {"name": "prepare", "type": "util/echo"}, {"name": "self", "type": "test/rewind-self"}]})
    tx = harness.start("rw-self", {})
    assert harness.run(tx).data == {"refused": "transaction_running"}


def test_refusals_are_typed_and_change_nothing(harness):
    harness.load(PIPELINE)
    tx = harness.start("rw-order", {"order": 9}, deadline="PT1H")
    harness.run(tx)
    before = Transaction.objects.get(pk=tx)
    harness.load({**PIPELINE, "steps": PIPELINE["steps"][1:]})  # a version without prepare
    with pytest.raises(StepNotInVersion) as refused:
        harness.rewind(tx, to_step="prepare", version="current")
    assert refused.value.http_status == 409
    with pytest.raises(StepNotInVersion):
        harness.rewind(tx, to_step="nope")
    with pytest.raises(VersionNotFound):
        harness.rewind(tx, to_step="charge", version="f" * 64)
    with pytest.raises(InvalidRequest) as bad:
        harness.rewind(tx, to_step="charge", data=[1])
    assert set(bad.value.extra["fields"]) == {"data"}
    harness.advance("PT2H")
    with pytest.raises(DeadlinePassed):
        harness.rewind(tx, to_step="charge")
    after = Transaction.objects.get(pk=tx)
    assert (after.status, after.step_name, after.version_id, after.visit) == (
        before.status, before.step_name, before.version_id, before.visit)
    assert not JournalEntry.objects.filter(tx_id=tx, kind="rewind").exists()
    harness.rewind(tx, to_step="charge", deadline="PT1H")  # a new deadline lets it go back
    assert Transaction.objects.get(pk=tx).status == "queued"


@pytest.mark.parametrize(("again", "sent"), [(False, 1), (True, 2)])
def test_the_first_finish_webhook_is_not_sent_again_unless_asked(harness, again, sent):
    harness.load(fixed())
    tx = harness.start("rw-order", {"order": 4}, webhook="https://hooks.example.com/datp")
    harness.run(tx)
    harness.set_switch(tx, "approved", True)
    assert harness.run(tx).status == "success"
    harness.rewind(tx, to_step="ship", webhook_again=again)
    assert harness.run(tx).status == "success"
    finished = WebhookDelivery.objects.filter(tx_id=tx, event="transaction.finished").count()
    assert finished == sent
    assert _entries(tx, "rewind")[0]["webhook"] == ("again" if again else "quiet")


def test_a_rewind_before_any_finish_keeps_the_first_webhook(harness):
    harness.load(fixed())
    tx = harness.start("rw-order", {"order": 5}, webhook="https://hooks.example.com/datp")
    harness.run(tx)
    harness.rewind(tx, to_step="prepare")
    assert _entries(tx, "rewind")[0]["webhook"] == "first"
    harness.run(tx)
    harness.set_switch(tx, "approved", True)
    assert harness.run(tx).status == "success"
    assert WebhookDelivery.objects.filter(tx_id=tx, event="transaction.finished").count() == 1


def test_a_parent_rewound_to_its_map_cancels_the_children_and_starts_new_ones(harness):
    harness.load(
        {"name": "rw-item", "transaction_type": False, "steps": [
            {"name": "wait", "type": "util/wait-switch", "config": {"switch": "go"}}]},
        {"name": "rw-map", "steps": [
            {"name": "map", "type": "util/map", "config": {"items": "/items", "pipeline": "rw-item"}}]},
    )
    parent = harness.start("rw-map", {"items": [1, 2, 3]})
    first = harness.run(parent).children
    assert [child.status for child in first] == ["sleeping"] * 3
    harness.rewind(parent, to_step="map", reason="again")
    assert {Transaction.objects.get(pk=child.tx.pk).status for child in first} == {"cancelled"}
    assert [group.outcome for group in harness.result(parent).groups] == ["closed"]
    result = harness.run(parent)
    assert result.status == "sleeping"
    fresh = [child for child in result.children if child.tx.pk not in {c.tx.pk for c in first}]
    assert [child.status for child in fresh] == ["sleeping"] * 3
    for child in fresh:
        harness.set_switch(child.tx.pk, "go", True)
    result = harness.run(parent)
    assert result.status == "success"
    assert [entry["status"] for entry in result.data["results"]] == ["success"] * 3


@pytest.mark.parametrize("end", ["success", "failed", "aborted", "internal_error", "timeout", "cancelled"])
def test_every_end_may_be_rewound(harness, end):
    harness.load({"name": "rw-end", "steps": [
        {"name": "first", "type": "util/echo"}, {"name": "finish", "type": "test/rewind-end"}]})
    data = {"end": {"internal_error": "raise", "timeout": "sleep", "cancelled": "sleep"}.get(end, end)}
    tx = harness.start("rw-end", data, **({"deadline": "PT1M"} if end == "timeout" else {}))
    harness.run(tx, limit="PT10S")
    if end == "cancelled":
        harness.cancel(tx, reason="by mistake")
    if end == "timeout":
        harness.advance("PT2M")
    assert harness.result(tx).status == end
    harness.rewind(tx, to_step="finish", data={"end": "success"},
                   **({"deadline": "PT1H"} if end == "timeout" else {}))
    result = harness.run(tx)
    assert (result.status, result.data) == ("success", {"ended": "success"})
    assert _entries(tx, "rewind")[0]["from"] == end
