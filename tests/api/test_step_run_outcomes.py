"""The API shows the outcome each step run ended with (a named one by its name), documents it in OpenAPI,
and lists the outcomes each step type declares."""
import json

from rest_framework.test import APIClient

from tests import named_outcomes  # noqa: F401  (registers test/outcomes-approve)
from tests.api.conftest import start


EXPENSE = {"name": "expense-api", "steps": [
    {"name": "approve", "type": "test/outcomes-approve", "on": {"approved": "pay", "rejected": "end"}},
    {"name": "pay", "type": "util/echo"}]}


def steps_of(api, harness, answer):
    harness.load(EXPENSE)
    tx_id = start(api, "expense-api", data={"answer": answer})
    harness.run(tx_id)
    return api.get(f"/api/v1/transactions/{tx_id}/steps").json()["results"]


def test_step_runs_show_a_named_outcome_by_its_name_and_a_fixed_one_as_itself(api, harness):
    runs = steps_of(api, harness, "approved")
    assert [(r["step"], r["status"], r["outcome"]) for r in runs] == [
        ("approve", "success", "approved"), ("pay", "success", "success")]


def test_a_named_outcome_routed_to_end_shows_no_failed_step(api, harness):
    runs = steps_of(api, harness, "rejected")
    assert [(r["step"], r["status"], r["outcome"]) for r in runs] == [("approve", "success", "rejected")]


def test_a_step_run_without_an_outcome_shows_null(api, harness):
    tx_id = start(api, "approval", data={})
    harness.run(tx_id)
    runs = api.get(f"/api/v1/transactions/{tx_id}/steps").json()["results"]
    assert [(r["status"], r["outcome"]) for r in runs] == [("sleeping", None)]


def test_the_openapi_step_run_documents_its_outcome(db):
    document = json.loads(APIClient().get("/api/schema/?format=json").content)
    item = document["components"]["schemas"]["StepRunPage"]["properties"]["results"]["items"]
    assert item["properties"]["outcome"]["type"] == "string" and item["properties"]["outcome"]["nullable"]
    listed = document["components"]["schemas"]["StepTypeList"]["properties"]["results"]["items"]
    assert listed["properties"]["outcomes"]["type"] == "array"


def test_step_types_list_the_outcomes_each_declares(api):
    by_type = {item["type"]: item for item in api.get("/api/v1/step-types").json()["results"]}
    assert by_type["util/wait-switch"]["outcomes"] == ["success", "timeout"]
    assert by_type["test/outcomes-approve"]["outcomes"] == ["approved", "rejected"]
    assert by_type["util/choice"]["outcomes"] is None  # each step's rules name its outcomes
    assert all(by_type[name]["outcomes"] for name in by_type if name.startswith("util/") and name != "util/choice")
