"""Pipeline definitions: every rule of the format, all problems at once, content-addressed versions,
publishing a changed pipeline, rollback, and transactions pinned to their version."""
import hashlib
import json
from datetime import timedelta

import pytest

from engine.errors import InvalidPipeline, NotFound, UnknownTransactionType
from engine.models import NodeGroup, Pipeline, PipelineVersion
from engine.services.pipelines import pipeline_publish, pipeline_use_version, pipeline_validate

pytestmark = pytest.mark.django_db

ECHO = {"type": "util/echo"}


def problems(definition):
    with pytest.raises(InvalidPipeline) as caught:
        pipeline_validate(definition=definition)
    assert caught.value.code == "invalid_pipeline"
    return caught.value.errors


def paths(definition):
    return [error.split(":", 1)[0] for error in problems(definition)]


@pytest.mark.parametrize(
    ("definition", "path"),
    [
        ({"steps": [ECHO]}, "name"),
        ({"name": "Order", "steps": [ECHO]}, "name"),
        ({"name": "-order", "steps": [ECHO]}, "name"),
        ({"name": "o" * 101, "steps": [ECHO]}, "name"),
        ({"name": "p", "description": 7, "steps": [ECHO]}, "description"),
        ({"name": "p", "node_group": "Big Group", "steps": [ECHO]}, "node_group"),
        ({"name": "p", "transaction_type": "yes", "steps": [ECHO]}, "transaction_type"),
        ({"name": "p", "deadline": "7 days", "steps": [ECHO]}, "deadline"),
        ({"name": "p"}, "steps"),
        ({"name": "p", "steps": []}, "steps"),
        ({"name": "p", "steps": {"a": ECHO}}, "steps"),
        ({"name": "p", "steps": [ECHO], "colour": "red"}, "colour"),
        ({"name": "p", "steps": ["util/echo"]}, "steps[0]"),
        ({"name": "p", "steps": [{"name": "a b", "type": "util/echo"}]}, "steps[0].name"),
        ({"name": "p", "steps": [{"name": "end", "type": "util/echo"}]}, "steps[0].name"),
        ({"name": "p", "steps": [{"name": "a"}]}, "steps[0].type"),
        ({"name": "p", "steps": [{"type": "acme/unknown"}]}, "steps[0].type"),
        ({"name": "p", "steps": [{"type": "util/echo", "config": []}]}, "steps[0].config"),
        ({"name": "p", "steps": [{"type": "util/set", "config": {}}]}, "steps[0].config"),
        ({"name": "p", "steps": [{"type": "util/echo", "when": "now"}]}, "steps[0].when"),
        ({"name": "p", "steps": [{"type": "util/echo", "on": "end"}]}, "steps[0].on"),
        ({"name": "p", "steps": [{"type": "util/echo", "on": {"error": "end"}}]}, "steps[0].on.error"),
        ({"name": "p", "steps": [{"type": "util/echo", "on": {"failed": "nowhere"}}]}, "steps[0].on.failed"),
        ({"name": "p", "steps": [{"type": "util/echo", "retry": 3}]}, "steps[0].retry"),
        ({"name": "p", "steps": [{"type": "util/echo", "retry": {"max_attempts": 0}}]}, "steps[0].retry.max_attempts"),
        ({"name": "p", "steps": [{"type": "util/echo", "retry": {"max_attempts": True}}]},
         "steps[0].retry.max_attempts"),
        ({"name": "p", "steps": [{"type": "util/echo", "retry": {"backoff": "1s"}}]}, "steps[0].retry.backoff"),
        ({"name": "p", "steps": [{"type": "util/echo", "retry": {"max_backoff": 5}}]}, "steps[0].retry.max_backoff"),
        ({"name": "p", "steps": [{"type": "util/echo", "retry": {"jitter": True}}]}, "steps[0].retry.jitter"),
        ({"name": "p", "steps": [{"type": "util/echo", "retry": {"non_retryable": "ValueError"}}]},
         "steps[0].retry.non_retryable"),
        ({"name": "p", "steps": [{"type": "util/echo", "retry": {"non_retryable": ["ValueError", 7]}}]},
         "steps[0].retry.non_retryable[1]"),
        ({"name": "p", "steps": [{"type": "util/echo", "retry": {"non_retryable": ["shop errors.OutOfStock"]}}]},
         "steps[0].retry.non_retryable[0]"),
        ({"name": "p", "steps": [{"type": "util/echo", "retry": {"non_retryable": ["shop.errors."]}}]},
         "steps[0].retry.non_retryable[0]"),
        ({"name": "p", "steps": [{"type": "util/echo", "retry": {"non_retryable": ["ValueError\n"]}}]},
         "steps[0].retry.non_retryable[0]"),
    ],
)
def test_each_rule_of_the_format_is_reported_at_its_path(definition, path):
    assert paths(definition) == [path]


def test_duplicate_step_names_are_refused_including_a_name_equal_to_a_default():
    errors = problems({"name": "p", "steps": [ECHO, {"name": "step-1", "type": "util/echo"}]})
    assert errors == ["steps[1].name: duplicate step name 'step-1'"]


def test_a_bad_duration_in_a_config_is_reported_as_the_spec_words_it():
    errors = problems({"name": "p", "steps": [ECHO, {"type": "util/wait-switch",
                                                     "config": {"switch": "ok", "timeout": "two days"}}]})
    assert errors == ["steps[1].config.timeout: not an ISO 8601 duration"]


def test_every_problem_is_reported_at_once_and_nothing_is_stored():
    definition = {
        "name": "order",
        "node_group": "brand-new",
        "deadline": "soon",
        "steps": [
            {"name": "a", "type": "util/nope"},
            {"name": "a", "type": "util/echo", "on": {"failed": "missing"}},
            {"type": "util/sleep", "config": {"duration": "PT1X"}, "retry": {"backoff": "x"}},
        ],
    }
    with pytest.raises(InvalidPipeline) as caught:
        pipeline_publish(definition=definition)
    assert sorted(error.split(":", 1)[0] for error in caught.value.errors) == [
        "deadline", "steps[0].type", "steps[1].name", "steps[1].on.failed", "steps[2].config.duration",
        "steps[2].retry.backoff",
    ]
    assert not Pipeline.objects.exists()
    assert not PipelineVersion.objects.exists()
    assert not NodeGroup.objects.filter(pk="brand-new").exists()


def test_defaults_are_filled_in_and_util_wait_is_stored_as_util_wait_switch():
    normal = pipeline_validate(
        definition={"name": "p", "steps": [{"type": "util/wait", "config": {"switch": "go"}}, ECHO]})
    assert normal == {
        "name": "p", "description": "", "node_group": "master", "transaction_type": True, "deadline": None,
        "steps": [
            {"name": "step-1", "type": "util/wait-switch", "config": {"switch": "go"}},
            {"name": "step-2", "type": "util/echo", "config": {}},
        ],
    }


def test_the_version_id_is_the_sha256_of_the_canonical_json():
    definition = {"name": "p", "description": "é",
                  "steps": [{"type": "util/set", "config": {"values": {"b": 1, "a": 2}}}]}
    version, created = pipeline_publish(definition=definition)
    canonical = json.dumps(pipeline_validate(definition=definition), sort_keys=True, separators=(",", ":"),
                           ensure_ascii=False)
    assert created is True
    assert version.pk == hashlib.sha256(canonical.encode()).hexdigest()
    assert version.definition == pipeline_validate(definition=definition)


def test_loading_the_same_content_again_creates_nothing_new():
    first, created = pipeline_publish(
        definition={"name": "p", "steps": [{"type": "util/set", "config": {"values": {"a": 1}}}]})
    assert created is True
    again, created_again = pipeline_publish(
        definition={"steps": [{"config": {"values": {"a": 1}}, "type": "util/set", "name": "step-1"}], "name": "p"}
    )
    assert (again.pk, created_again) == (first.pk, False)
    assert PipelineVersion.objects.count() == 1
    assert Pipeline.objects.get(pk="p").current_version_id == first.pk


def test_a_missing_node_group_is_created_and_the_pipeline_records_its_fields():
    pipeline_publish(definition={"name": "p", "description": "Quick", "node_group": "billing",
                                 "transaction_type": False, "steps": [ECHO]})
    pipeline = Pipeline.objects.get(pk="p")
    assert NodeGroup.objects.filter(pk="billing").exists()
    assert (pipeline.node_group_id, pipeline.description, pipeline.transaction_type) == ("billing", "Quick", False)


def test_a_pipeline_without_node_group_runs_on_the_datp_default_node_group(settings):
    settings.DATP = {**settings.DATP, "DEFAULT_NODE_GROUP": "blue"}
    pipeline_publish(definition={"name": "p", "steps": [ECHO]})
    assert Pipeline.objects.get(pk="p").node_group_id == "blue"


def test_a_pipeline_that_is_not_a_transaction_type_cannot_be_started_directly(harness):
    harness.load({"name": "inner", "transaction_type": False, "steps": [ECHO]})
    with pytest.raises(UnknownTransactionType) as caught:
        harness.start("inner", {})
    assert caught.value.code == "unknown_transaction_type"


def test_the_pipeline_deadline_becomes_the_transactions_default_deadline(harness):
    harness.load({"name": "p", "deadline": "P7D", "steps": [{"type": "util/wait-switch", "config": {"switch": "s"}}]})
    tx_id = harness.start("p", {})
    started = harness.now()
    result = harness.run(tx_id)
    assert result.tx.deadline_at == started + timedelta(days=7)
    assert result.status == "timeout"


def _two_step(value):
    return {"name": "p", "steps": [{"name": "wait", "type": "util/wait-switch", "config": {"switch": "go"}},
                                   {"name": "mark", "type": "util/set", "config": {"values": {"v": value}}}]}


def test_a_changed_pipeline_is_a_new_version_in_use_and_pinned_transactions_finish_on_theirs(harness):
    (v1,) = harness.load(_two_step(1))
    old_tx = harness.start("p", {})
    assert harness.run(old_tx).status == "sleeping"
    version, created = pipeline_publish(definition=_two_step(2))
    assert created is True and version.pk != v1.pk
    assert Pipeline.objects.get(pk="p").current_version_id == version.pk
    assert set(PipelineVersion.objects.values_list("pk", flat=True)) == {v1.pk, version.pk}
    new_tx = harness.start("p", {})
    for tx_id in (old_tx, new_tx):
        harness.run(tx_id)
        harness.set_switch(tx_id, "go", True)
    old, new = harness.run(old_tx), harness.run(new_tx)
    assert (old.status, old.data, old.tx.version_id) == ("success", {"v": 1}, v1.pk)
    assert (new.status, new.data, new.tx.version_id) == ("success", {"v": 2}, version.pk)


def test_use_version_rolls_back_and_new_transactions_start_on_the_earlier_version(harness):
    (v1,) = harness.load(_two_step(1))
    (v2,) = harness.load(_two_step(2))
    pipeline_use_version(name="p", version=v1.pk)
    assert Pipeline.objects.get(pk="p").current_version_id == v1.pk
    tx_id = harness.start("p", {})
    harness.set_switch(tx_id, "go", True)
    result = harness.run(tx_id)
    assert (result.data, result.tx.version_id) == ({"v": 1}, v1.pk)
    assert PipelineVersion.objects.filter(pk=v2.pk).exists()


def test_publishing_the_earlier_content_again_makes_it_current_without_a_new_version(harness):
    (v1,) = harness.load(_two_step(1))
    harness.load(_two_step(2))
    version, created = pipeline_publish(definition=_two_step(1))
    assert (version.pk, created) == (v1.pk, False)
    assert Pipeline.objects.get(pk="p").current_version_id == v1.pk


def test_use_version_of_an_unknown_version_or_another_pipeline_is_not_found(harness):
    (other,) = harness.load({"name": "other", "steps": [ECHO]})
    harness.load(_two_step(1))
    for name, version in (("p", "0" * 64), ("p", other.pk), ("missing", other.pk)):
        with pytest.raises(NotFound) as caught:
            pipeline_use_version(name=name, version=version)
        assert caught.value.code == "not_found"


def test_default_step_names_are_what_transactions_record(harness):
    harness.load({"name": "p", "steps": [ECHO, {"type": "util/set", "config": {"values": {"x": 1}}}]})
    result = harness.run(harness.start("p", {}))
    assert result.steps == [("step-1", "success"), ("step-2", "success")]


def test_a_route_to_end_finishes_the_transaction_with_success(harness):
    harness.load({"name": "p", "steps": [
        {"name": "no", "type": "util/fail", "config": {"note": "nope"}, "on": {"failed": "end"}},
        {"name": "never", "type": "util/set", "config": {"values": {"reached": True}}},
    ]})
    result = harness.run(harness.start("p", {}))
    assert result.status == "success"
    assert result.steps == [("no", "failed")]


def test_a_route_on_success_skips_to_the_named_step(harness):
    harness.load({"name": "p", "steps": [
        {"name": "first", "type": "util/echo", "on": {"success": "last"}},
        {"name": "skipped", "type": "util/fail"},
        {"name": "last", "type": "util/set", "config": {"values": {"done": True}}},
    ]})
    result = harness.run(harness.start("p", {}))
    assert (result.status, result.data) == ("success", {"done": True})
    assert [name for name, _ in result.steps] == ["first", "last"]


def test_a_valid_retry_policy_and_route_back_to_an_earlier_step_are_accepted():
    normal = pipeline_validate(definition={"name": "p", "steps": [
        {"name": "poll", "type": "util/echo", "retry": {"max_attempts": 5, "backoff": "PT1S", "max_backoff": "PT5M"}},
        {"name": "check", "type": "util/fail", "on": {"failed": "poll", "aborted": "end"}},
    ]})
    assert normal["steps"][0]["retry"] == {"max_attempts": 5, "backoff": "PT1S", "max_backoff": "PT5M"}
    assert normal["steps"][1]["on"] == {"failed": "poll", "aborted": "end"}


def test_non_retryable_takes_class_names_and_dotted_paths_and_a_bad_entry_is_named_with_its_index():
    retry = {"max_attempts": 5, "non_retryable": ["ValueError", "shop.errors.OutOfStock", "_Private"]}
    normal = pipeline_validate(definition={"name": "p", "steps": [{"type": "util/echo", "retry": retry}]})
    assert normal["steps"][0]["retry"] == retry
    errors = problems({"name": "p", "steps": [ECHO, {"type": "util/echo", "retry": {"non_retryable": [None]}}]})
    assert errors == [("steps[1].retry.non_retryable[0]: an exception class name or dotted path "
                       "(e.g. ValueError, shop.errors.OutOfStock)")]
