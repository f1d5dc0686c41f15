"""Built-ins that run other pipelines: child-pipeline and call."""
from engine.limits import NAME_PATTERN, PIPELINE_NAME_PATTERN
from engine.states import ROUTABLE_OUTCOMES
from engine.steps import Step, register
from engine.util import deep_merge, get_path

PIPELINE_NAME = {"type": "string", "pattern": PIPELINE_NAME_PATTERN}
CHILD_OUTCOMES = {"success": "succeeded", "failed": "failed", "internal_error": "failed", "aborted": "aborted",
                  "timeout": "timeout", "cancelled": "cancelled"}


def _selection_key(value):
    """The map key for a selection value: JSON's spelling for booleans, the text of anything else."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return None if value is None else str(value)


def follow_child(ctx, pipeline, data):
    """Start the child (the same one on every run of this visit) and finish with its outcome."""
    child_id = ctx.start_child(pipeline, data)
    child = ctx.get_child(child_id)
    builder = CHILD_OUTCOMES.get(child["status"])
    if builder is None:
        return ctx.wait(child=child_id, note=f"waiting for child {child_id}")
    output = child["data"] if isinstance(child["data"], dict) else {}
    if builder == "succeeded":
        return ctx.succeeded(child["note"], output)
    return getattr(ctx, builder)(child["note"] or f"Child {child_id} ended {child['status']}", output)


@register
class ChildPipeline(Step):
    """Run `pipeline` (or the one `map` chooses by the value at `field`) as a child with the input;
    finish with the child's output and status (internal_error → failed)."""

    type_name = "util/child-pipeline"
    outcomes = ROUTABLE_OUTCOMES  # the child's end (its internal_error: failed)
    config_schema = {
        "type": "object",
        "properties": {
            "pipeline": {**PIPELINE_NAME, "description": "The child pipeline to run."},
            "field": {"type": "string", "minLength": 1,
                      "description": "Dotted path of the input whose value chooses the pipeline in `map`."},
            "map": {"type": "object", "additionalProperties": PIPELINE_NAME,
                    "description": "Value (as text; booleans `true`/`false`) to pipeline name."},
            "default": {**PIPELINE_NAME, "description": "The pipeline when `map` has no entry for the value."},
        },
        "oneOf": [{"required": ["pipeline"]}, {"required": ["field", "map"]}],
        "additionalProperties": False,
    }

    @classmethod
    def pipelines_named(cls, config):
        named = [(("pipeline",), config["pipeline"])] if "pipeline" in config else []
        named += [(("map", key), name) for key, name in config.get("map", {}).items()]
        return named + ([(("default",), config["default"])] if "default" in config else [])

    def invoke(self, ctx):
        pipeline = ctx.config.get("pipeline")
        if pipeline is None:
            key = _selection_key(get_path(ctx.input, ctx.config["field"]))
            pipeline = ctx.config["map"].get(key, ctx.config.get("default"))
        if pipeline is None:
            return ctx.failed("Unknown value for selection field")
        return follow_child(ctx, pipeline, ctx.input)


@register
class Call(Step):
    """Start a child transaction of `transaction_type` with the input merged with `data`.

    In the background it succeeds at once (with a callback, the child's input names it by its marker
    and the child's end reports to it);
    in the foreground it waits like util/child-pipeline.
    """

    type_name = "util/call"
    outcomes = ROUTABLE_OUTCOMES  # a foreground child's end (its internal_error: failed)
    config_schema = {
        "type": "object",
        "properties": {
            "transaction_type": {**PIPELINE_NAME, "description": "The child pipeline to start."},
            "data": {"type": "object", "default": {},
                     "description": "Deep-merged over the input into the child's input."},
            "background": {"type": "boolean", "default": False,
                           "description": "Succeed at once instead of waiting for the child."},
            "callback": {"type": "string", "pattern": NAME_PATTERN,
                         "description": "A callback of this transaction that the child's end reports to "
                         "(background only)."},
        },
        "required": ["transaction_type"],
        "additionalProperties": False,
    }

    @classmethod
    def pipelines_named(cls, config):
        return [(("transaction_type",), config["transaction_type"])]

    def invoke(self, ctx):
        data = deep_merge(ctx.input, ctx.config.get("data", {}))
        pipeline = ctx.config["transaction_type"]
        if not ctx.config.get("background", False):
            if "callback" in ctx.config:
                return ctx.failed("A callback is only for a background call")
            return follow_child(ctx, pipeline, data)
        name = ctx.config.get("callback")
        if name is not None:
            callback = ctx.get_callback(name)
            if callback is None:
                return ctx.failed("Unknown callback")
            # The child reports through the marker (its util/callback-update resolves it); a step of
            # the child that must give a partner the token asks ctx.reveal_callback for it.
            data = deep_merge(data, {"callback": {"name": name, "token": callback["ref"], "url": callback["ref"]}})
        child_id = ctx.start_child(pipeline, data, background=True, callback=name)
        return ctx.succeeded(output={**ctx.input, "call": {"tx_id": child_id}})
