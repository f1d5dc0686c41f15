"""Loading refuses a pipeline whose child pipeline does not exist, naming the field that names it (issue 17);
pipelines loaded together may name each other in any order, and a pipeline may call itself."""
import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from engine.errors import InvalidPipeline
from engine.models import Pipeline, PipelineVersion
from engine.services.pipelines import (
    pipeline_publish,
    pipeline_validate,
    pipelines_publish_all,
)

ECHO = {"name": "echo", "type": "util/echo"}


def child(name, **fields):
    return {"name": name, "transaction_type": False, "steps": [ECHO], **fields}


def parent(name, step_type, config):
    return {"name": name, "steps": [ECHO, ECHO | {"name": "other"}, {"name": "kid", "type": step_type,
                                                                     "config": config}]}


def problems(definition, **kwargs):
    with pytest.raises(InvalidPipeline) as raised:
        pipeline_validate(definition=definition, **kwargs)
    return raised.value.errors


def test_a_missing_child_pipeline_is_refused_at_the_field_that_names_it(db):
    with pytest.raises(InvalidPipeline) as raised:
        pipeline_publish(definition=parent("orders", "util/child-pipeline", {"pipeline": "payment"}))
    assert raised.value.errors == ["steps[2].config.pipeline: no pipeline named 'payment'"]
    assert "steps[2].config.pipeline: no pipeline named 'payment'" in str(raised.value)
    assert not Pipeline.objects.exists() and not PipelineVersion.objects.exists()


def test_every_field_that_names_a_child_is_checked_with_did_you_mean(db):
    pipeline_publish(definition=child("payment-card"))
    pipeline_publish(definition=child("refund"))
    assert problems(parent("orders", "util/child-pipeline", {
        "field": "kind", "map": {"card": "payment-cart", "cash": "refund", "gift": "gift-card"},
        "default": "refnd"})) == [
        "steps[2].config.map.card: no pipeline named 'payment-cart': did you mean `payment-card`?",
        "steps[2].config.map.gift: no pipeline named 'gift-card'",
        "steps[2].config.default: no pipeline named 'refnd': did you mean `refund`?",
    ]
    assert problems(parent("orders", "util/call", {"transaction_type": "payment-crad"})) == [
        "steps[2].config.transaction_type: no pipeline named 'payment-crad': did you mean `payment-card`?"
    ]
    assert problems(parent("orders", "util/call", {"transaction_type": "payment-crad", "background": True})) == [
        "steps[2].config.transaction_type: no pipeline named 'payment-crad': did you mean `payment-card`?"
    ]


def test_a_stored_pipeline_counts_whether_or_not_it_is_child_only(db):
    pipeline_publish(definition=child("payment"))
    pipeline_publish(definition={**child("shipping"), "transaction_type": True})
    pipeline_publish(definition=parent("orders", "util/child-pipeline", {"pipeline": "payment"}))
    pipeline_publish(definition=parent("returns", "util/call", {"transaction_type": "shipping"}))
    assert set(Pipeline.objects.values_list("name", flat=True)) == {"payment", "shipping", "orders", "returns"}


def test_a_pipeline_may_call_itself(db):
    version, created = pipeline_publish(definition=parent("loop", "util/call", {"transaction_type": "loop"}))
    assert created and version.pipeline_id == "loop"


def test_a_step_with_a_bad_config_is_not_also_checked_for_its_child(db):
    errors = problems(parent("orders", "util/child-pipeline", {"pipeline": "Not A Name"}))
    assert len(errors) == 1 and errors[0].startswith("steps[2].config.pipeline: 'Not A Name' does not match")


def test_pipelines_loaded_together_may_name_each_other_in_any_order(db):
    results = pipelines_publish_all(definitions=[
        ("a.json", parent("orders", "util/child-pipeline", {"pipeline": "payment"})),
        ("b.json", parent("payment", "util/call", {"transaction_type": "orders"}) | {"transaction_type": False}),
    ])
    assert [version.pipeline_id for version, _ in results] == ["orders", "payment"]


def test_a_missing_child_among_pipelines_loaded_together_is_reported_with_its_label(db):
    with pytest.raises(InvalidPipeline) as raised:
        pipelines_publish_all(definitions=[
            ("a.json", parent("orders", "util/child-pipeline", {"pipeline": "paymnet"})),
            ("b.json", child("payment")),
        ])
    assert raised.value.errors == [
        "a.json: steps[2].config.pipeline: no pipeline named 'paymnet': did you mean `payment`?"
    ]
    assert not Pipeline.objects.exists()


def test_the_harness_loads_a_parent_before_its_child_and_runs_it(harness):
    harness.load(parent("orders", "util/child-pipeline", {"pipeline": "payment"}), child("payment"))
    assert harness.run(harness.start("orders", {"n": 1})).status == "success"


def test_the_harness_names_the_pipeline_of_each_problem_when_it_loads_several(harness):
    with pytest.raises(InvalidPipeline) as raised:
        harness.load(parent("orders", "util/child-pipeline", {"pipeline": "paymnt"}), child("payment"))
    assert raised.value.errors == [
        "orders: steps[2].config.pipeline: no pipeline named 'paymnt': did you mean `payment`?"
    ]
    with pytest.raises(InvalidPipeline) as raised:
        harness.load(parent("orders", "util/child-pipeline", {"pipeline": "paymnt"}))
    assert raised.value.errors == ["steps[2].config.pipeline: no pipeline named 'paymnt'"]


def test_the_load_command_takes_a_folder_whose_files_name_each_other(db, tmp_path):
    (tmp_path / "a-orders.json").write_text(json.dumps(
        parent("orders", "util/child-pipeline", {"pipeline": "payment"})))
    (tmp_path / "b-payment.json").write_text(json.dumps(
        parent("payment", "util/call", {"transaction_type": "orders"}) | {"transaction_type": False}))
    call_command("datp_load_pipelines", str(tmp_path), stdout=StringIO())
    assert set(Pipeline.objects.values_list("name", flat=True)) == {"orders", "payment"}


def test_the_load_command_refuses_a_missing_child_naming_the_file_and_field(db, tmp_path):
    path = tmp_path / "orders.json"
    path.write_text(json.dumps(parent("orders", "util/child-pipeline", {"pipeline": "payment"})))
    with pytest.raises(CommandError) as raised:
        call_command("datp_load_pipelines", str(path), stdout=StringIO())
    assert f"{path}: steps[2].config.pipeline: no pipeline named 'payment'" in str(raised.value)
    assert not Pipeline.objects.exists()
