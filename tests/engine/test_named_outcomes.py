"""Named outcomes: a step ends with a name of its own (`ctx.outcome`), `on` routes it by name or by `*`,
the step run and the transaction end as the rules say, and loading checks each route against the
outcomes the step type declares."""
import pytest
from django.db import IntegrityError
from django.db import transaction as db_transaction

from engine import checks
from engine.errors import InvalidPipeline
from engine.models import StepRun
from engine.services.pipelines import pipeline_validate
from engine.steps import Step, register, registry
from engine.steps.outcomes import Outcome
from tests import named_outcomes  # noqa: F401  (registers test/outcomes-approve and test/outcomes-anything)


@register
class Handmade(Step):
    """Return an Outcome made by hand, not through ctx (so its name is not checked on the way)."""

    type_name = "test/outcomes-handmade"

    def invoke(self, ctx):
        return Outcome(ctx.input["answer"])


def mark(name):
    return {"name": name, "type": "util/set", "config": {"values": {"visited": name}}, "on": {"success": "end"}}


def expense(on, *, step_type="test/outcomes-approve"):
    return {"name": "expense", "steps": [{"name": "approve", "type": step_type, "on": on},
                                         mark("pay"), mark("notify")]}


def run(h, definition, answer):
    h.load(definition)
    return h.run(h.start(definition["name"], {"answer": answer}))


def test_a_named_outcome_is_routed_by_its_name_and_its_step_run_records_it(harness):
    result = run(harness, expense({"approved": "pay", "rejected": "end"}), "approved")
    assert result.status == "success"
    assert result.steps == [("approve", "approved"), ("pay", "success")]
    first = result.runs("approve")[0]
    assert (first.status, first.outcome, first.outcome_name, first.note) == ("success", "approved", "approved",
                                                                             "decided")
    assert result.data == {"answer": "approved", "by": "approve", "visited": "pay"}


def test_a_named_outcome_routed_to_end_ends_the_transaction_success_without_a_failed_step(harness):
    result = run(harness, expense({"approved": "pay", "rejected": "end"}), "rejected")
    assert (result.status, result.note) == ("success", "decided")
    assert [(r.step, r.status, r.outcome) for r in result.step_runs] == [("approve", "success", "rejected")]
    assert result.data == {"answer": "rejected", "by": "approve"}


def test_star_routes_every_outcome_not_named(harness):
    definition = expense({"approved": "pay", "*": "notify"})
    assert run(harness, definition, "approved").steps == [("approve", "approved"), ("pay", "success")]
    assert run(harness, definition, "rejected").steps == [("approve", "rejected"), ("notify", "success")]


def test_star_also_catches_the_fixed_outcomes_not_named_success_included(harness):
    definition = expense({"approved": "pay", "*": "notify"}, step_type="test/outcomes-anything")
    failed = run(harness, definition, "failed")
    assert (failed.status, failed.steps) == ("success", [("approve", "failed"), ("notify", "success")])
    succeeded = run(harness, definition, "success")
    assert succeeded.steps == [("approve", "success"), ("notify", "success")]  # not the next step, `pay`


def test_a_named_outcome_without_a_route_fails_its_step_run_and_the_transaction(harness):
    result = run(harness, expense({"approved": "pay"}), "rejected")
    assert result.status == "failed"
    assert result.note == "No route for outcome 'rejected' (on.rejected or on.*): decided"
    only = result.runs("approve")[0]
    assert (only.status, only.outcome, only.note) == ("failed", "rejected", result.note)
    assert result.steps == [("approve", "rejected")]


def test_a_named_outcome_without_any_on_fails_rather_than_going_on_to_the_next_step(harness):
    result = run(harness, {"name": "plain", "steps": [{"name": "approve", "type": "test/outcomes-approve"},
                                                      mark("pay")]}, "approved")
    assert (result.status, result.steps) == ("failed", [("approve", "approved")])


def test_fixed_outcomes_keep_their_rules_beside_named_routes(harness):
    definition = expense({"approved": "pay"}, step_type="test/outcomes-anything")
    assert run(harness, definition, "success").steps == [("approve", "success"), ("pay", "success")]
    aborted = run(harness, definition, "aborted")
    assert (aborted.status, aborted.runs()[0].outcome, aborted.runs()[0].outcome_name) == ("aborted", None, "aborted")


def test_ctx_outcome_with_a_fixed_name_is_that_fixed_outcome(harness):
    result = run(harness, expense({"failed": "notify"}), "failed")
    assert result.steps == [("approve", "failed"), ("notify", "success")]
    assert result.runs("approve")[0].outcome is None


def test_an_outcome_the_step_type_does_not_declare_fails_the_step_clearly(harness):
    result = run(harness, expense({"*": "pay"}), "maybe")
    assert result.status == "internal_error"
    assert result.note == ("Step 'approve' returned unknown outcome 'maybe' of test/outcomes-approve "
                           "(its outcomes: approved, rejected)")
    assert result.runs("approve")[0].status == "internal_error"


@pytest.mark.parametrize("name", ["Approved", "no way", "internal_error", "lost", "a" * 65, ""])
def test_ctx_outcome_refuses_a_name_that_is_no_outcome(harness, name):
    result = run(harness, expense({"*": "pay"}, step_type="test/outcomes-anything"), name)
    assert result.status == "internal_error"
    assert result.note.startswith(f"InvalidRequest: ctx.outcome({name!r}): ")
    assert "ctx.outcome" in result.runs()[0].error


def test_an_outcome_made_by_hand_with_a_bad_name_fails_the_step(harness):
    result = run(harness, expense({"*": "pay"}, step_type="test/outcomes-handmade"), "Not Good")
    assert result.status == "internal_error"
    assert result.note.startswith("Step 'approve' returned an outcome named 'Not Good': ")


def test_a_step_type_that_declares_no_outcomes_may_end_with_any_name(harness):
    result = run(harness, expense({"whatever": "pay"}, step_type="test/outcomes-anything"), "whatever")
    assert result.steps == [("approve", "whatever"), ("pay", "success")]


# Loading ---------------------------------------------------------------------------------------------


def problems(definition):
    with pytest.raises(InvalidPipeline) as caught:
        pipeline_validate(definition=definition)
    assert caught.value.code == "invalid_pipeline"
    return caught.value.errors


def test_loading_refuses_a_route_on_an_outcome_the_step_type_does_not_declare_with_a_suggestion():
    definition = {"name": "p", "steps": [mark("first"), {"type": "test/outcomes-approve",
                                                         "on": {"aproved": "end", "rejected": "end"}}]}
    assert problems(definition) == [
        "steps[1].on.aproved: unknown outcome 'aproved' of test/outcomes-approve (its outcomes: approved, "
        "rejected): did you mean `approved`?"]


def test_loading_refuses_a_named_route_on_a_built_in_and_suggests_the_fixed_outcome():
    assert problems({"name": "p", "steps": [{"type": "util/echo", "on": {"sucess": "end"}}]}) == [
        "steps[0].on.sucess: unknown outcome 'sucess' of util/echo (its outcomes: success): did you mean `success`?"]


def test_loading_refuses_route_keys_that_are_no_outcome_and_names_each_path():
    errors = problems({"name": "p", "steps": [{"type": "test/outcomes-anything", "on": {
        "Approved": "end", "internal_error": "end", "ok": "nowhere", "fine": "end"}}]})
    assert [error.split(":", 1)[0] for error in errors] == [
        "steps[0].on.Approved", "steps[0].on.internal_error", "steps[0].on.ok"]
    assert "not an outcome: an outcome name is 1 to 64 lower-case letters" in errors[0]
    assert "'internal_error' is not routable" in errors[1]
    assert errors[2] == "steps[0].on.ok: route to unknown step 'nowhere'"


def test_loading_accepts_declared_fixed_and_star_routes_on_any_step_type():
    for step_type in ("test/outcomes-approve", "util/echo"):
        definition = {"name": "p", "steps": [{"type": step_type, "on": {
            "failed": "end", "timeout": "end", "*": "end", **({"approved": "end"} if "approve" in step_type else {})}}]}
        assert pipeline_validate(definition=definition)["steps"][0]["on"]["*"] == "end"


def test_outcomes_can_depend_on_the_config():
    @register("test/outcomes-by-config")
    class ByConfig(Step):
        config_schema = {"type": "object", "properties": {"names": {"type": "array", "items": {"type": "string"}}}}
        outcomes = ()

        @classmethod
        def outcomes_for(cls, config):
            return tuple(config.get("names", ()))

    try:
        step = {"type": "test/outcomes-by-config", "config": {"names": ["big", "small"]}}
        assert pipeline_validate(definition={"name": "p", "steps": [{**step, "on": {"big": "end"}}]})
        assert problems({"name": "p", "steps": [{**step, "on": {"huge": "end"}}]}) == [
            "steps[0].on.huge: unknown outcome 'huge' of test/outcomes-by-config (its outcomes: big, small)"]
    finally:
        registry.unregister("test/outcomes-by-config")


@pytest.mark.parametrize("declared", [("Approved",), ("internal_error",), "approved"])
def test_a_step_type_declaring_a_bad_outcome_is_refused_when_registered(declared):
    class Bad(Step):
        type_name = "test/outcomes-bad"
        outcomes = declared

    with pytest.raises(ValueError, match="outcomes"):
        register(Bad)
    assert registry.get("test/outcomes-bad") is None


# The database ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "outcome"), [("aborted", "approved"), ("success", "success"),
                                                 ("failed", "internal_error")])
def test_the_database_refuses_a_named_outcome_on_a_status_it_cannot_have(harness, status, outcome):
    result = run(harness, expense({"approved": "pay"}), "approved")
    with pytest.raises(IntegrityError), db_transaction.atomic():
        StepRun.objects.filter(tx_id=result.tx.pk, step="approve").update(status=status, outcome=outcome)


# The start-up check ----------------------------------------------------------------------------------


def test_the_check_of_pipelines_in_use_warns_of_a_route_on_an_outcome_no_longer_declared(harness):
    @register("test/outcomes-renamed")
    class Renamed(Step):
        outcomes = ("approved", "rejected")

    try:
        harness.load({"name": "renamed", "steps": [{"name": "ask", "type": "test/outcomes-renamed",
                                                    "on": {"approved": "end", "rejected": "end"}}]})
        assert checks.missing_step_types(databases=["default"]) == []
        Renamed.outcomes = ("approved", "declined")
        [warning] = checks.missing_step_types(databases=["default"])
        assert warning.id == "datp.W002"
        assert "routes 'rejected' in step 'ask': unknown outcome 'rejected' of test/outcomes-renamed" in warning.msg
    finally:
        registry.unregister("test/outcomes-renamed")
