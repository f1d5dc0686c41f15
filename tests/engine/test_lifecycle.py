"""The transaction lifecycle of spec/concepts.md: data flow, pinning, outcomes and routes, faulty steps,
retry counts per visit, external ids, and the journal of every status move."""
import pytest

from engine.errors import DuplicateExternalId, InvalidRequest, UnknownTransactionType
from engine.services import transactions
from engine.services.owners import owner_ensure
from engine.services.pipelines import pipeline_publish
from engine.steps import Step, register, registry

SEEN = {}


def seen(tx_id):
    return SEEN.setdefault(tx_id, [])


@register
class Record(Step):
    """Record input and metadata, try to change the metadata, and add `add` to the output."""

    type_name = "test/lifecycle-record"

    def invoke(self, ctx):
        seen(ctx.tx_id).append({"input": ctx.input, "metadata": dict(ctx.metadata)})
        ctx.metadata["tampered"] = True
        if "add" in ctx.config:
            return ctx.succeeded(output={**ctx.input, **ctx.config["add"]})
        return ctx.succeeded()


@register
class Outcome(Step):
    """End with the outcome named by config `kind`."""

    type_name = "test/lifecycle-outcome"

    def invoke(self, ctx):
        builder = getattr(ctx, ctx.config["kind"])
        return builder(ctx.config.get("note", ctx.config["kind"]), ctx.config.get("output"))


@register
class Misbehave(Step):
    """Raise (config `raise`), or return config `value` instead of an outcome."""

    type_name = "test/lifecycle-misbehave"

    def invoke(self, ctx):
        if ctx.config.get("raise"):
            raise RuntimeError("the card processor is on fire")
        return ctx.config.get("value")


@register
class Sleepy(Step):
    """Sleep an hour on the first run, succeed afterwards."""

    type_name = "test/lifecycle-sleepy"

    def invoke(self, ctx):
        if ctx.retry_count == 0:
            return ctx.retry_later(seconds=3600)
        return ctx.succeeded(output={"woke": True})


@register
class CountRetries(Step):
    """Record ctx.retry_count; sleep short, then long, then succeed."""

    type_name = "test/lifecycle-retries"

    def invoke(self, ctx):
        seen(ctx.tx_id).append(ctx.retry_count)
        if ctx.retry_count == 0:
            return ctx.retry_later(seconds=1)
        if ctx.retry_count == 1:
            return ctx.retry_later(seconds=600)
        return ctx.succeeded()


@register
class Loop(Step):
    """Fail (to be routed back) until the input's `passes` reaches config `passes`."""

    type_name = "test/lifecycle-loop"

    def invoke(self, ctx):
        passes = ctx.input.get("passes", 0) + 1
        if passes < ctx.config["passes"]:
            return ctx.failed("again", {"passes": passes})
        return ctx.succeeded(output={"passes": passes})


@register
class Publisher(Step):
    """Publish a new version of this very pipeline while it runs."""

    type_name = "test/lifecycle-publish"

    def invoke(self, ctx):
        pipeline_publish(definition={"name": "pinned-run", "steps": [
            {"name": "first", "type": "test/lifecycle-publish"},
            {"name": "second", "type": "util/fixed-reply", "config": {"reply": {"version": 2}}},
        ]})
        return ctx.succeeded()


def one_step(name, step_type, config=None, **extra):
    return {"name": name, "steps": [{"name": "only", "type": step_type, "config": config or {}, **extra}]}


def test_each_step_gets_the_previous_output_and_every_step_sees_the_same_metadata(harness):
    harness.load({"name": "flow", "steps": [
        {"name": "a", "type": "test/lifecycle-record", "config": {"add": {"a": 1}}},
        {"name": "b", "type": "test/lifecycle-record", "config": {"add": {"b": 2}}},
        {"name": "c", "type": "test/lifecycle-record"},
    ]})
    tx_id = harness.start("flow", {"x": 0}, metadata={"m": "keep"})
    result = harness.run(tx_id)
    assert result.status == "success"
    assert [r["input"] for r in seen(tx_id)] == [{"x": 0}, {"x": 0, "a": 1}, {"x": 0, "a": 1, "b": 2}]
    assert [run.output for run in result.step_runs] == [
        {"x": 0, "a": 1}, {"x": 0, "a": 1, "b": 2}, {"x": 0, "a": 1, "b": 2}
    ]
    assert result.data == {"x": 0, "a": 1, "b": 2}
    # Metadata: every step sees it, and a step changing its copy changes nothing.
    assert [r["metadata"] for r in seen(tx_id)] == [{"m": "keep"}] * 3
    assert result.tx.metadata == {"m": "keep"}


def test_a_step_without_output_passes_its_input_through(harness):
    harness.load(one_step("passthrough", "test/lifecycle-record"))
    tx_id = harness.start("passthrough", {"keep": [1, 2]})
    result = harness.run(tx_id)
    assert result.step_runs[0].output == {"keep": [1, 2]}
    assert result.data == {"keep": [1, 2]}


@pytest.mark.parametrize("field", ["data", "metadata"])
@pytest.mark.parametrize("bad", [[1, 2], "text", 3, True])
def test_data_and_metadata_must_be_objects(harness, field, bad):
    from engine.models import Transaction

    harness.load(one_step("objects", "util/echo"))
    request = {"data": {}, "metadata": {}, field: bad}
    with pytest.raises(InvalidRequest) as raised:
        transactions.transaction_start(owner="test", transaction_type="objects", **request)
    assert raised.value.code == "invalid_request"
    assert field in raised.value.extra["fields"]
    assert not Transaction.objects.exists()


def test_a_sleeping_transaction_finishes_on_the_version_it_started_with(harness):
    harness.load({"name": "pinned", "steps": [
        {"name": "wait", "type": "test/lifecycle-sleepy"},
        {"name": "reply", "type": "util/fixed-reply", "config": {"reply": {"version": 1}}},
    ]})
    old = harness.start("pinned", {})
    assert harness.run(old, limit="PT1M").status == "sleeping"
    harness.load({"name": "pinned", "steps": [
        {"name": "wait", "type": "test/lifecycle-sleepy"},
        {"name": "reply", "type": "util/fixed-reply", "config": {"reply": {"version": 2}}},
    ]})
    new = harness.start("pinned", {})
    assert harness.run(old).data == {"version": 1}
    assert harness.run(new).data == {"version": 2}
    assert harness.result(old).tx.version_id != harness.result(new).tx.version_id


def test_publishing_while_a_step_runs_does_not_change_the_running_transaction(harness):
    harness.load({"name": "pinned-run", "steps": [
        {"name": "first", "type": "test/lifecycle-publish"},
        {"name": "second", "type": "util/fixed-reply", "config": {"reply": {"version": 1}}},
    ]})
    tx_id = harness.start("pinned-run", {})
    assert harness.run(tx_id).data == {"version": 1}
    assert harness.run(harness.start("pinned-run", {})).data == {"version": 2}


@pytest.mark.parametrize(("kind", "status"), [
    ("failed", "failed"), ("aborted", "aborted"), ("timeout", "timeout"), ("cancelled", "cancelled"),
])
def test_an_unrouted_outcome_ends_the_transaction_with_its_status(harness, kind, status):
    harness.load({"name": "ends", "steps": [
        {"name": "decide", "type": "test/lifecycle-outcome", "config": {"kind": kind, "output": {"why": kind}}},
        {"name": "never", "type": "util/echo"},
    ]})
    result = harness.run(harness.start("ends", {}))
    assert result.status == status
    assert result.note == kind
    assert result.data == {"why": kind}
    assert result.steps == [("decide", status)]


@pytest.mark.parametrize(("kind", "outcome"), [
    ("failed", "failed"), ("aborted", "aborted"), ("timeout", "timeout"), ("cancelled", "cancelled"),
])
def test_a_routed_outcome_keeps_the_transaction_running(harness, kind, outcome):
    harness.load({"name": "routes", "steps": [
        {"name": "decide", "type": "test/lifecycle-outcome", "config": {"kind": kind}, "on": {outcome: "handle"}},
        {"name": "skipped", "type": "util/fail"},
        {"name": "handle", "type": "util/fixed-reply", "config": {"reply": {"handled": outcome}}},
    ]})
    result = harness.run(harness.start("routes", {}))
    assert result.status == "success"
    assert result.steps == [("decide", outcome), ("handle", "success")]
    assert result.data == {"handled": outcome}


def test_a_success_route_skips_the_steps_in_between(harness):
    harness.load({"name": "jump", "steps": [
        {"name": "a", "type": "util/echo", "on": {"success": "c"}},
        {"name": "b", "type": "util/fail"},
        {"name": "c", "type": "util/echo"},
    ]})
    assert harness.run(harness.start("jump", {})).steps == [("a", "success"), ("c", "success")]


def test_a_route_to_end_finishes_with_success(harness):
    harness.load({"name": "to-end", "steps": [
        {"name": "a", "type": "test/lifecycle-outcome", "config": {"kind": "failed", "output": {"o": 1}},
         "on": {"failed": "end"}},
        {"name": "b", "type": "util/fail"},
    ]})
    result = harness.run(harness.start("to-end", {}))
    assert result.status == "success"
    assert result.data == {"o": 1}
    assert result.steps == [("a", "failed")]


def test_routes_may_loop_and_each_pass_is_a_new_step_run(harness):
    harness.load({"name": "loop", "steps": [
        {"name": "poll", "type": "test/lifecycle-loop", "config": {"passes": 3}, "on": {"failed": "poll"}},
    ]})
    result = harness.run(harness.start("loop", {}))
    assert result.status == "success"
    assert result.steps == [("poll", "failed"), ("poll", "failed"), ("poll", "success")]
    assert len({run.pk for run in result.step_runs}) == 3
    assert result.data == {"passes": 3}


def test_a_raising_step_is_an_internal_error_with_its_traceback(harness):
    harness.load(one_step("raises", "test/lifecycle-misbehave", {"raise": True}, on={"failed": "end"}))
    result = harness.run(harness.start("raises", {}))
    assert result.status == "internal_error"
    run = result.step_runs[0]
    assert run.status == "internal_error"
    assert "Traceback" in run.error and "the card processor is on fire" in run.error
    assert "RuntimeError" in result.note


@pytest.mark.parametrize("value", [None, {"a": 1}, "success"])
def test_returning_something_other_than_an_outcome_is_an_internal_error(harness, value):
    harness.load(one_step("junk", "test/lifecycle-misbehave", {"value": value}))
    result = harness.run(harness.start("junk", {}))
    assert result.status == "internal_error"
    assert result.steps == [("only", "internal_error")]
    assert "instead of an outcome" in result.step_runs[0].note


def test_waking_onto_an_unregistered_step_type_is_an_internal_error_naming_it(harness):
    harness.load(one_step("gone", "test/lifecycle-sleepy"))
    tx_id = harness.start("gone", {})
    assert harness.run(tx_id, limit="PT1M").status == "sleeping"
    registry.unregister("test/lifecycle-sleepy")
    try:
        result = harness.run(tx_id)
    finally:
        register(Sleepy)
    assert result.status == "internal_error"
    assert "test/lifecycle-sleepy" in result.note
    assert result.steps[-1] == ("only", "internal_error")


def test_retry_count_grows_within_a_visit_and_restarts_on_a_new_visit(harness):
    harness.load({"name": "visits", "steps": [
        {"name": "work", "type": "test/lifecycle-retries"},
        {"name": "check", "type": "test/lifecycle-loop", "config": {"passes": 2}, "on": {"failed": "work"}},
    ]})
    tx_id = harness.start("visits", {})
    result = harness.run(tx_id)
    assert result.status == "success"
    assert seen(tx_id) == [0, 1, 2, 0, 1, 2]
    assert [run.retry_count for run in result.step_runs if run.step == "work"] == [0, 1, 2, 0, 1, 2]


def test_the_same_external_id_and_request_replays_and_another_request_is_a_duplicate(harness):
    harness.load(one_step("ext", "util/echo"), one_step("ext-other", "util/echo"))
    first, created = transactions.transaction_start(owner="test", transaction_type="ext", data={"a": 1},
                                                    external_id="order-1")
    again, created_again = transactions.transaction_start(owner="test", transaction_type="ext", data={"a": 1},
                                                          external_id="order-1")
    assert created and not created_again
    assert again.pk == first.pk
    for kwargs in ({"transaction_type": "ext", "data": {"a": 2}}, {"transaction_type": "ext-other", "data": {"a": 1}}):
        with pytest.raises(DuplicateExternalId) as raised:
            transactions.transaction_start(owner="test", external_id="order-1", **kwargs)
        assert raised.value.code == "duplicate_external_id"
        assert raised.value.extra["tx_id"] == first.pk
    owner_ensure(name="other")
    assert harness.start("ext", {"a": 1}, external_id="order-1", owner="other") != first.pk


def test_an_unknown_or_child_only_type_cannot_be_started(harness):
    harness.load({**one_step("child-only", "util/echo"), "transaction_type": False})
    for name in ("no-such-pipeline", "child-only"):
        with pytest.raises(UnknownTransactionType) as raised:
            harness.start(name, {})
        assert raised.value.code == "unknown_transaction_type"


def test_every_status_move_is_journaled_in_order_with_its_actor(harness):
    harness.load({"name": "journaled", "steps": [
        {"name": "nap", "type": "test/lifecycle-sleepy"},
        {"name": "finish", "type": "test/lifecycle-outcome", "config": {"kind": "failed"}},
    ]})
    tx_id = harness.start("journaled", {})
    result = harness.run(tx_id)
    assert result.status == "failed"
    assert result.journal[0].kind == "created" and result.journal[0].actor == "app:test"
    moves = [(e.data["from"], e.data["to"], e.actor, e.kind) for e in result.journal if "to" in e.data]
    assert [(src, dst) for src, dst, _, _ in moves] == [
        ("queued", "running"), ("running", "sleeping"), ("sleeping", "queued"), ("queued", "running"),
        ("running", "failed"),
    ]
    assert moves[1][2] == "step:nap"
    assert moves[2][2:] == ("system", "woken")
    assert moves[4][2] == "step:finish"
    assert all(e.at is not None for e in result.journal)
