"""Bad configs of the built-ins are refused when the pipeline loads: every problem at once, each with its
path, and nothing stored."""
import pytest

from engine.errors import InvalidPipeline
from engine.models import NodeGroup, Pipeline, PipelineVersion
from engine.services.pipelines import pipeline_publish, pipeline_validate

NOT_A_DURATION = "not an ISO 8601 duration"

# (step type, bad config, the path of the error, a fragment of its message)
BAD_CONFIGS = [
    ("util/echo", {"x": 1}, "steps[0].config", "'x' was unexpected"),
    ("util/set", {}, "steps[0].config", "'values' is a required property"),
    ("util/set", {"values": [1]}, "steps[0].config.values", "is not of type 'object'"),
    ("util/fixed-reply", {"status": "done"}, "steps[0].config.status", "is not one of"),
    ("util/fixed-reply", {"reply": "text"}, "steps[0].config.reply", "is not of type 'object'"),
    ("util/fixed-reply", {"note": 5}, "steps[0].config.note", "is not of type 'string'"),
    ("util/fixed-reply", {"replay": {}}, "steps[0].config", "'replay' was unexpected"),
    ("util/mandatory-fields", {}, "steps[0].config", "'fields' is a required property"),
    ("util/mandatory-fields", {"fields": "order_id"}, "steps[0].config.fields", "is not of type 'array'"),
    ("util/mandatory-fields", {"fields": [""]}, "steps[0].config.fields[0]", "should be non-empty"),
    ("util/sleep", {"duration": "PT1M", "until": "2030-01-01T00:00:00Z"}, "steps[0].config", "valid under each"),
    ("util/sleep", {}, "steps[0].config", "is not valid under any"),
    ("util/sleep", {"duration": "ten minutes"}, "steps[0].config.duration", NOT_A_DURATION),
    ("util/sleep", {"duration": "-PT1M"}, "steps[0].config.duration", "must not be negative"),
    ("util/sleep", {"until": "tomorrow"}, "steps[0].config.until", "not an ISO 8601 timestamp"),
    ("util/sleep", {"duration": "P1000000Y"}, "steps[0].config.duration", "too long: it would end after 9999"),
    ("util/sleep", {"duration": "P8000Y"}, "steps[0].config.duration", "too long: it would end after 9999"),
    ("util/sleep", {"duration": "P1.5Y"}, "steps[0].config.duration", "whole numbers"),
    ("util/sleep", {"until": "9999-12-31T23:00:00-05:00"}, "steps[0].config.until", "too far in the future"),
    ("util/sleep", {"until": "0001-01-01T00:00:00+01:00"}, "steps[0].config.until", "too far in the past"),
    ("util/sleep", {"until": "2030-01-01T00:00:00"}, "steps[0].config.until", "needs a time zone"),
    ("util/sleep", {"duration": 60}, "steps[0].config.duration", "is not of type 'string'"),
    ("util/delay", {"min_ms": "500"}, "steps[0].config.min_ms", "is not of type 'integer'"),
    ("util/delay", {"max_ms": -1}, "steps[0].config.max_ms", "is less than the minimum"),
    ("util/delay", {"max_ms": 10 ** 20}, "steps[0].config.max_ms", "is greater than the maximum"),
    ("util/delay", {"delay": 5}, "steps[0].config", "'delay' was unexpected"),
    ("util/wait-switch", {}, "steps[0].config", "'switch' is a required property"),
    ("util/wait-switch", {"switch": "bad name!"}, "steps[0].config.switch", "does not match"),
    ("util/wait-switch", {"switch": "s", "scope": "world"}, "steps[0].config.scope", "is not one of"),
    ("util/wait-switch", {"switch": "s", "value": {"a": 1}}, "steps[0].config.value", "is not of type"),
    ("util/wait-switch", {"switch": "s", "timeout": "2 days"}, "steps[0].config.timeout", NOT_A_DURATION),
    ("util/wait", {"switch": "s", "timeout": "P"}, "steps[0].config.timeout", NOT_A_DURATION),
    ("util/fail", {"output": "text"}, "steps[0].config.output", "is not of type 'object'"),
    ("util/progress", {}, "steps[0].config", "'report' is a required property"),
    ("util/progress", {"report": 50}, "steps[0].config.report", "is not of type 'object'"),
    ("util/child-pipeline", {}, "steps[0].config", "is not valid under any"),
    ("util/child-pipeline", {"field": "kind"}, "steps[0].config", "is not valid under any"),
    ("util/child-pipeline", {"pipeline": "Bad Name"}, "steps[0].config.pipeline", "does not match"),
    ("util/child-pipeline", {"field": "k", "map": {"a": 5}}, "steps[0].config.map.a", "is not of type"),
    ("util/callback", {"timeout": "1h"}, "steps[0].config.timeout", NOT_A_DURATION),
    ("util/callback", {"callback_data": []}, "steps[0].config.callback_data", "is not of type 'object'"),
    ("util/callback", {"name": ""}, "steps[0].config.name", "does not match"),
    ("util/call", {}, "steps[0].config", "'transaction_type' is a required property"),
    ("util/call", {"transaction_type": "kid", "background": "yes"}, "steps[0].config.background",
     "is not of type 'boolean'"),
    ("util/call", {"transaction_type": "kid", "data": "x"}, "steps[0].config.data", "is not of type 'object'"),
    ("util/callback-update", {}, "steps[0].config", "'status' is a required property"),
    ("util/callback-update", {"status": "timeout"}, "steps[0].config.status", "is not one of"),
    ("util/callback-update", {"status": "complete", "token_field": ""}, "steps[0].config.token_field",
     "should be non-empty"),
    ("util/await", {"poll_interval": "10s"}, "steps[0].config.poll_interval", NOT_A_DURATION),
    ("util/await", {"callbackPollInterval": "often"}, "steps[0].config.callbackPollInterval", NOT_A_DURATION),
    ("util/await", {"timeout": "P1X"}, "steps[0].config.timeout", NOT_A_DURATION),
    ("util/await", {"poll_interval": "P1000000Y"}, "steps[0].config.poll_interval", "too long"),
    ("util/callback", {"timeout": "PT99999999999999999999S"}, "steps[0].config.timeout", NOT_A_DURATION),
    ("util/await", {"callback": "default", "poll": "PT1S"}, "steps[0].config", "'poll' was unexpected"),
]


def definition(*steps, **fields):
    return {"name": "bad", **fields, "steps": list(steps)}


def nothing_stored():
    return not Pipeline.objects.exists() and not PipelineVersion.objects.exists()


@pytest.mark.parametrize("step_type, config, path, fragment", BAD_CONFIGS,
                         ids=[f"{case[0]}-{index}" for index, case in enumerate(BAD_CONFIGS)])
def test_a_bad_builtin_config_is_refused_with_its_path(db, step_type, config, path, fragment):
    bad = definition({"type": step_type, "config": config})
    with pytest.raises(InvalidPipeline) as caught:
        pipeline_validate(definition=bad)
    assert caught.value.code == "invalid_pipeline"
    assert any(error.startswith(f"{path}: ") and fragment in error for error in caught.value.errors), \
        caught.value.errors
    with pytest.raises(InvalidPipeline):
        pipeline_publish(definition=bad)
    assert nothing_stored()


@pytest.mark.parametrize("step_type, config", [
    ("util/echo", {}), ("util/set", {"values": {}}), ("util/fixed-reply", {}),
    ("util/mandatory-fields", {"fields": []}), ("util/sleep", {"duration": "P1M"}),
    ("util/sleep", {"until": "2030-01-01T00:00:00+02:00"}), ("util/sleep", {"duration_field": "a.b"}),
    ("util/delay", {}), ("util/wait-switch", {"switch": "s", "scope": "global", "value": None}),
    ("util/wait", {"switch": "s"}), ("util/fail", {}), ("util/progress", {"report": {}}),
    ("util/child-pipeline", {"pipeline": "kid"}), ("util/child-pipeline", {"field": "k", "map": {}, "default": "x"}),
    ("util/callback", {}), ("util/call", {"transaction_type": "kid", "background": True, "callback": "default"}),
    ("util/callback-update", {"status": "progress"}), ("util/await", {"callbackPollInterval": "PT1M"}),
])
def test_a_good_builtin_config_loads(db, step_type, config):
    for child in ("kid", "x"):  # the child pipelines the configs name must exist
        pipeline_publish(definition={"name": child, "steps": [{"type": "util/echo"}]})
    version, created = pipeline_publish(definition=definition({"type": step_type, "config": config}))
    assert created
    assert PipelineVersion.objects.get(pipeline_id=version.pipeline_id).pk == version.pk


def test_a_bad_duration_names_the_step_and_the_field(db):
    bad = definition({"type": "util/echo"}, {"type": "util/wait-switch", "config": {"switch": "s", "timeout": "2d"}})
    with pytest.raises(InvalidPipeline) as caught:
        pipeline_publish(definition=bad)
    assert caught.value.errors == ["steps[1].config.timeout: not an ISO 8601 duration"]
    assert nothing_stored()


def test_durations_past_what_a_datetime_holds_are_refused_wherever_they_are(db):
    bad = definition({"type": "util/echo", "retry": {"backoff": "P1000000Y", "max_backoff": "-PT1S"}},
                     deadline="P9000Y")
    with pytest.raises(InvalidPipeline) as caught:
        pipeline_publish(definition=bad)
    assert caught.value.errors == [
        "deadline: too long: it would end after 9999-12-31T00:00:00Z",
        "steps[0].retry.backoff: too long: it would end after 9999-12-31T00:00:00Z",
        "steps[0].retry.max_backoff: a duration must not be negative",
    ]
    assert nothing_stored()


def test_every_problem_is_reported_at_once_and_nothing_is_stored(db):
    bad = definition(
        {"name": "a", "type": "util/sleep", "config": {"duration": "PT1M", "until": "2030-01-01T00:00:00Z"}},
        {"name": "b", "type": "util/wait-switch", "config": {"switch": "s", "timeout": "soon"}},
        {"name": "c", "type": "util/echo", "config": {"unknown": True}},
        {"name": "a", "type": "util/no-such-type"},
        {"name": "e", "type": "util/set", "config": {"values": 3}, "on": {"failed": "nowhere"}},
        {"name": "f", "type": "util/fixed-reply", "config": []},
        node_group="far-away", deadline="a week",
    )
    with pytest.raises(InvalidPipeline) as caught:
        pipeline_publish(definition=bad)
    errors = caught.value.errors
    prefixes = ["deadline: ", "steps[0].config: ", "steps[1].config.timeout: ", "steps[2].config: ",
                "steps[3].name: ", "steps[3].type: ", "steps[4].config.values: ", "steps[4].on.failed: ",
                "steps[5].config: "]
    for prefix in prefixes:
        assert any(error.startswith(prefix) for error in errors), (prefix, errors)
    assert caught.value.extra["errors"] == errors
    assert nothing_stored()
    assert not NodeGroup.objects.filter(pk="far-away").exists()


def test_a_bad_config_leaves_the_version_in_use_unchanged(db):
    good, _ = pipeline_publish(definition=definition({"type": "util/sleep", "config": {"duration": "PT1M"}}))
    with pytest.raises(InvalidPipeline):
        pipeline_publish(definition=definition({"type": "util/sleep",
                                                "config": {"duration": "PT1M", "until": "2030-01-01Z"}}))
    assert PipelineVersion.objects.count() == 1
    assert Pipeline.objects.get(name="bad").current_version_id == good.pk
