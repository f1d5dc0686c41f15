"""Permanent errors and retry control (issue 18): PermanentError is never retried and ends the step
`failed`; a retry policy's `non_retryable` classes (by name, dotted path, or an ancestor) are not retried;
a step type's `input_schema` is checked before `invoke`; the reason a step was not retried is in its note
and in a `not_retried` journal entry; a worker crash is still recovered."""
import pytest

from engine.steps import InvalidInput, PermanentError, Step, register, registry

CALLS = {}


class ShopError(Exception):
    pass


class OutOfStock(ShopError):
    pass


class BadCard(PermanentError):
    pass


RAISES = {"value": ValueError, "runtime": RuntimeError, "out_of_stock": OutOfStock, "permanent": PermanentError,
          "bad_card": BadCard}


@register
class RaisesWhatItIsTold(Step):
    """Raise the exception config `raise` names (after `succeed_on` - 1 runs, succeed instead)."""

    type_name = "test/perm-raises"

    def invoke(self, ctx):
        calls = CALLS.setdefault(ctx.tx_id, [])
        calls.append(ctx.retry_count)
        if len(calls) == ctx.config.get("succeed_on"):
            return ctx.succeeded(output={"runs": len(calls)})
        raise RAISES[ctx.config["raise"]](f"run {len(calls)} refused")


@register
class Typed(Step):
    """Echo an order whose input must have a whole `amount` and a customer with a numeric trial."""

    type_name = "test/perm-typed"
    input_schema = {"type": "object", "required": ["amount"], "properties": {
        "amount": {"type": "integer"},
        "customer": {"type": "object", "properties": {"trial_days": {"type": "number"}}}}}

    def invoke(self, ctx):
        CALLS.setdefault(ctx.tx_id, []).append(ctx.retry_count)
        return ctx.succeeded(output={"charged": ctx.input["amount"]})


def _run(harness, raise_, *, retry=None, on=None, data=None, step_type="test/perm-raises", then=False):
    step = {"name": "work", "type": step_type, "config": {"raise": raise_} if raise_ else {}}
    if retry is not None:
        step["retry"] = retry
    if on is not None:
        step["on"] = on
    steps = [step, {"name": "after", "type": "util/echo"}] if then else [step]
    harness.load({"name": "perm", "steps": steps})
    tx_id = harness.start("perm", data or {})
    return tx_id, harness.run(tx_id)


def _not_retried(result):
    return [(entry.step, entry.data) for entry in result.journal if entry.kind == "not_retried"]


@pytest.mark.parametrize("retry", [None, {}, {"max_attempts": 5, "backoff": "PT1S"}])
def test_a_permanent_error_is_never_retried_and_ends_the_transaction_failed(harness, retry):
    tx_id, result = _run(harness, "permanent", retry=retry)
    assert result.status == "failed" and len(CALLS[tx_id]) == 1
    assert result.steps == [("work", "failed")]
    run = result.runs("work")[0]
    assert run.note == "PermanentError: run 1 refused; not retried: PermanentError"
    assert "Traceback" in run.error and run.attempt == 1
    assert result.note == run.note
    assert _not_retried(result) == [("work", {"reason": "PermanentError", "exception": "PermanentError"})]


def test_a_subclass_of_permanent_error_says_which_class_it_was(harness):
    tx_id, result = _run(harness, "bad_card", retry={"max_attempts": 3})
    assert result.status == "failed" and len(CALLS[tx_id]) == 1
    assert result.note.endswith("; not retried: BadCard is a PermanentError")


def test_a_permanent_error_is_a_failure_that_on_failed_routes(harness):
    _, result = _run(harness, "permanent", retry={}, on={"failed": "after"}, then=True)
    assert result.status == "success"
    assert result.steps == [("work", "failed"), ("after", "success")]
    assert len(_not_retried(result)) == 1


def test_a_class_in_non_retryable_is_not_retried(harness):
    tx_id, result = _run(harness, "value", retry={"max_attempts": 5, "non_retryable": ["ValueError"]})
    assert result.status == "internal_error" and len(CALLS[tx_id]) == 1
    assert result.runs("work")[0].note == "ValueError: run 1 refused; not retried: ValueError is in non_retryable"
    assert _not_retried(result) == [("work", {"reason": "ValueError is in non_retryable", "exception": "ValueError"})]


def test_a_subclass_of_a_class_in_non_retryable_is_not_retried(harness):
    tx_id, result = _run(harness, "out_of_stock", retry={"max_attempts": 5, "non_retryable": ["ShopError"]})
    assert result.status == "internal_error" and len(CALLS[tx_id]) == 1
    assert result.note.endswith("not retried: OutOfStock is in non_retryable (as ShopError)")


def test_a_dotted_path_in_non_retryable_names_the_class_in_its_module(harness):
    dotted = f"{OutOfStock.__module__}.OutOfStock"
    tx_id, result = _run(harness, "out_of_stock", retry={"max_attempts": 5, "non_retryable": [dotted]})
    assert result.status == "internal_error" and len(CALLS[tx_id]) == 1
    assert result.note.endswith(f"not retried: OutOfStock is in non_retryable (as {dotted})")


def test_a_dotted_path_of_another_module_does_not_match_a_class_of_the_same_name(harness):
    tx_id, result = _run(harness, "out_of_stock",
                         retry={"max_attempts": 2, "backoff": "PT1S", "non_retryable": ["shop.errors.OutOfStock"]})
    assert len(CALLS[tx_id]) == 2
    assert result.note.endswith("not retried: attempts exhausted (2 of 2)")


def test_a_class_not_listed_is_retried_until_its_attempts_are_exhausted(harness):
    tx_id, result = _run(harness, "runtime", retry={"max_attempts": 3, "non_retryable": ["ValueError"]})
    assert result.status == "internal_error" and CALLS[tx_id] == [0, 1, 2]
    assert [run.note for run in result.runs("work")] == [
        "RuntimeError: run 1 refused", "RuntimeError: run 2 refused",
        "RuntimeError: run 3 refused; not retried: attempts exhausted (3 of 3)"]
    assert _not_retried(result) == [("work", {"reason": "attempts exhausted (3 of 3)", "exception": "RuntimeError"})]


def test_without_a_retry_policy_a_raising_step_runs_once_and_its_note_is_unchanged(harness):
    tx_id, result = _run(harness, "value")
    assert result.status == "internal_error" and len(CALLS[tx_id]) == 1
    assert result.note == "ValueError: run 1 refused" and _not_retried(result) == []


def test_a_step_that_recovers_before_its_attempts_run_out_succeeds(harness):
    step = {"raise": "runtime", "succeed_on": 2}
    harness.load({"name": "perm", "steps": [{"name": "work", "type": "test/perm-raises", "config": step,
                                             "retry": {"non_retryable": ["ValueError"]}}]})
    result = harness.run(harness.start("perm", {}))
    assert result.status == "success" and result.steps == [("work", "internal_error"), ("work", "success")]
    assert _not_retried(result) == []


def test_an_input_that_does_not_match_the_input_schema_fails_naming_the_field_without_running_the_step(harness):
    tx_id, result = _run(harness, None, step_type="test/perm-typed", retry={"max_attempts": 5},
                         data={"amount": 12, "customer": {"trial_days": "thirty"}})
    assert result.status == "failed" and tx_id not in CALLS
    assert result.steps == [("work", "failed")]
    assert result.note == ("InvalidInput: the input does not match the step type's input_schema: "
                           "/customer/trial_days: 'thirty' is not of type 'number'; "
                           "not retried: InvalidInput is a PermanentError")
    assert _not_retried(result)[0][1]["exception"] == "InvalidInput"


def test_every_mismatch_of_the_input_is_named_a_missing_field_at_its_parent(harness):
    _, result = _run(harness, None, step_type="test/perm-typed", data={"amount": 1.5, "note": "x"})
    assert "/amount: 1.5 is not of type 'integer'" in result.note
    _, result = _run(harness, None, step_type="test/perm-typed", data={})
    assert "(root): 'amount' is a required property" in result.note


def test_a_long_value_is_shortened_in_the_message(harness):
    _, result = _run(harness, None, step_type="test/perm-typed", data={"amount": "x" * 5000})
    assert result.status == "failed" and "/amount: 'xxx" in result.note and len(result.note) < 400


def test_an_input_that_matches_the_input_schema_runs_the_step(harness):
    tx_id, result = _run(harness, None, step_type="test/perm-typed", data={"amount": 12})
    assert result.status == "success" and result.data == {"charged": 12} and CALLS[tx_id] == [0]


def test_invalid_input_is_a_permanent_error_naming_its_problems():
    error = InvalidInput([("/a", "bad"), ("", "'b' is a required property")])
    assert isinstance(error, PermanentError) and error.problems == [("/a", "bad"), ("", "'b' is a required property")]
    assert str(error).endswith("/a: bad; (root): 'b' is a required property")


def test_registering_a_step_type_whose_input_schema_is_no_schema_is_refused():
    class Broken(Step):
        type_name = "test/perm-broken"
        input_schema = {"type": "whole number"}

    with pytest.raises(ValueError, match="input_schema"):
        register(Broken)
    assert registry.get("test/perm-broken") is None


def _crashed_once(harness, step):
    """Run the step `work` (`step`: its config and retry) once and lose its worker; return its result after
    recovery ran it again."""
    harness.load({"name": "perm", "steps": [{"name": "work", "type": "test/perm-raises", **step}]})
    tx_id = harness.start("perm", {})
    harness.crash_next_run("work")
    harness.settle()
    harness.advance_past_lease()
    return harness.result(tx_id)


def test_a_step_lost_by_a_worker_crash_is_still_run_again_whatever_non_retryable_lists(harness):
    result = _crashed_once(harness, {"config": {"raise": "permanent", "succeed_on": 2},
                                     "retry": {"max_attempts": 1, "non_retryable": ["Exception"]}})
    assert [(run.attempt, run.status) for run in result.runs("work")] == [(1, "lost"), (2, "success")]
    assert result.status == "success" and _not_retried(result) == []


def test_a_permanent_error_after_a_lost_worker_ends_failed_at_that_attempt(harness):
    result = _crashed_once(harness, {"config": {"raise": "permanent"}})
    assert [(run.attempt, run.status) for run in result.runs("work")] == [(1, "lost"), (2, "failed")]
    assert result.status == "failed" and result.tx.attempt == 2
