"""Built-ins that finish at once: echo, set, fixed-reply, mandatory-fields, fail, progress."""
from engine.steps import Step, register
from engine.util import deep_merge, get_path

OBJECT = {"type": "object"}


@register
class Echo(Step):
    """Succeed at once; the output is the input."""

    type_name = "util/echo"
    outcomes = ("success",)
    config_schema = {"type": "object", "additionalProperties": False}

    def invoke(self, ctx):
        return ctx.succeeded()


@register
class Set(Step):
    """Succeed at once with the input deep-merged with `values`."""

    type_name = "util/set"
    outcomes = ("success",)
    config_schema = {
        "type": "object",
        "properties": {
            "values": {**OBJECT, "description": "Deep-merged into the input (its keys win); the result is the output."},
        },
        "required": ["values"],
        "additionalProperties": False,
    }

    def invoke(self, ctx):
        return ctx.succeeded(output=deep_merge(ctx.input, ctx.config["values"]))


@register
class FixedReply(Step):
    """End the step with `status` (default success), `note`, and `reply` as the output."""

    type_name = "util/fixed-reply"
    outcomes = ("success", "failed", "aborted")
    config_schema = {
        "type": "object",
        "properties": {
            "reply": {**OBJECT, "default": {}, "description": "The step's output."},
            "note": {"type": "string", "description": "The step's note."},
            "status": {"enum": ["success", "failed", "aborted"], "default": "success",
                       "description": "The outcome the step ends with."},
        },
        "additionalProperties": False,
    }

    def invoke(self, ctx):
        reply = ctx.config.get("reply", {})
        note = ctx.config.get("note")
        status = ctx.config.get("status", "success")
        if status == "failed":
            return ctx.failed(note, reply)
        if status == "aborted":
            return ctx.aborted(note, reply)
        return ctx.succeeded(note, reply)


@register
class MandatoryFields(Step):
    """Fail with `Missing fields` and {"missing": [...]} if a dotted path is absent or null in the input."""

    type_name = "util/mandatory-fields"
    outcomes = ("success", "failed")
    config_schema = {
        "type": "object",
        "properties": {
            "fields": {"type": "array", "items": {"type": "string", "minLength": 1},
                       "description": "Dotted paths (`order.id`) that must be present, and not null, in the input."},
        },
        "required": ["fields"],
        "additionalProperties": False,
    }

    def invoke(self, ctx):
        missing = [path for path in ctx.config["fields"] if get_path(ctx.input, path) is None]
        if missing:
            return ctx.failed("Missing fields", {"missing": missing})
        return ctx.succeeded()


@register
class Fail(Step):
    """Fail with `note`; the output is `output`."""

    type_name = "util/fail"
    outcomes = ("failed",)
    config_schema = {
        "type": "object",
        "properties": {
            "note": {"type": "string", "default": "Failed by util/fail", "description": "The step's note."},
            "output": {**OBJECT, "default": {}, "description": "The step's output."},
        },
        "additionalProperties": False,
    }

    def invoke(self, ctx):
        return ctx.failed(ctx.config.get("note", "Failed by util/fail"), ctx.config.get("output", {}))


@register
class Progress(Step):
    """Set the transaction's progress report to `report` and succeed."""

    type_name = "util/progress"
    outcomes = ("success",)
    config_schema = {
        "type": "object",
        "properties": {"report": {**OBJECT, "description": "The progress report that replaces the transaction's."}},
        "required": ["report"],
        "additionalProperties": False,
    }

    def invoke(self, ctx):
        ctx.progress(ctx.config["report"])
        return ctx.succeeded()
