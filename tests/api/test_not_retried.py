"""Over REST, a step that was not retried says why (its step run's note, a `not_retried` journal entry, the
transaction's note), and the step types list shows each type's input_schema (issue 18)."""
from engine.steps import PermanentError, Step, register
from tests.api.conftest import start


@register
class RefusesTheOrder(Step):
    """Raise PermanentError, or ValueError with config `value`."""

    type_name = "test/api-refuses"

    def invoke(self, ctx):
        if ctx.config.get("value"):
            raise ValueError("no such size")
        raise PermanentError("the order has no items")


@register
class NeedsAnAmount(Step):
    """Succeed with an input that has a whole `amount`."""

    type_name = "test/api-needs-amount"
    input_schema = {"type": "object", "required": ["amount"], "properties": {"amount": {"type": "integer"}}}

    def invoke(self, ctx):
        return ctx.succeeded()


PIPELINES = [
    {"name": "refused", "steps": [{"name": "check", "type": "test/api-refuses", "retry": {"max_attempts": 4}}]},
    {"name": "listed", "steps": [{"name": "check", "type": "test/api-refuses", "config": {"value": True},
                                  "retry": {"max_attempts": 4, "non_retryable": ["ValueError"]}}]},
    {"name": "typed", "steps": [{"name": "charge", "type": "test/api-needs-amount"}]},
]


def _ended(api, harness, transaction_type, data=None):
    harness.load(*PIPELINES)
    tx_id = start(api, transaction_type, data=data or {})
    harness.run(tx_id)
    return tx_id


def test_a_permanent_error_shows_why_it_was_not_retried_in_the_step_run_and_the_journal(api, harness):
    tx_id = _ended(api, harness, "refused")
    body = api.get(f"/api/v1/transactions/{tx_id}").json()
    assert body["status"] == "failed"
    runs = api.get(f"/api/v1/transactions/{tx_id}/steps").json()["results"]
    assert [(run["step"], run["status"]) for run in runs] == [("check", "failed")]
    assert runs[0]["note"] == "PermanentError: the order has no items; not retried: PermanentError"
    assert "Traceback" in runs[0]["error"]
    journal = api.get(f"/api/v1/transactions/{tx_id}/journal").json()["results"]
    entry = next(entry for entry in journal if entry["kind"] == "not_retried")
    assert (entry["step"], entry["actor"], entry["data"]) == (
        "check", "system", {"reason": "PermanentError", "exception": "PermanentError"})


def test_a_class_in_non_retryable_shows_why_it_was_not_retried(api, harness):
    tx_id = _ended(api, harness, "listed")
    runs = api.get(f"/api/v1/transactions/{tx_id}/steps").json()["results"]
    assert [(run["status"], run["note"]) for run in runs] == [
        ("internal_error", "ValueError: no such size; not retried: ValueError is in non_retryable")]


def test_an_input_the_input_schema_refuses_names_the_field(api, harness):
    tx_id = _ended(api, harness, "typed", {"amount": "ten"})
    runs = api.get(f"/api/v1/transactions/{tx_id}/steps").json()["results"]
    assert runs[0]["status"] == "failed" and "/amount: 'ten' is not of type 'integer'" in runs[0]["note"]


def test_step_types_show_their_input_schema(api):
    by_type = {item["type"]: item for item in api.get("/api/v1/step-types").json()["results"]}
    assert by_type["test/api-needs-amount"]["input_schema"] == NeedsAnAmount.input_schema
    assert by_type["util/echo"]["input_schema"] is None
