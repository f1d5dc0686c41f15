"""Step types that end with named outcomes, shared by the engine, API and console tests of them."""
from engine.steps import Step, register


@register
class Approve(Step):
    """End with the outcome named in the input's `answer` (fixed or named), with the input as output."""

    type_name = "test/outcomes-approve"
    outcomes = ("approved", "rejected")

    def invoke(self, ctx):
        return ctx.outcome(ctx.input["answer"], output={**ctx.input, "by": "approve"}, note="decided")


@register
class Anything(Step):
    """Declare no outcomes: end with any name the input gives."""

    type_name = "test/outcomes-anything"

    def invoke(self, ctx):
        return ctx.outcome(ctx.input["answer"])
