"""Step types for the real-process tests (loaded by nodes through DATP_STEP_MODULES)."""
import os
import time

from engine.steps import Step, register


def record(ctx, what):
    """Append one line to the run log the test reads (O_APPEND: atomic across processes)."""
    path = os.environ.get("DATP_TEST_RUNLOG")
    if path:
        with open(path, "a") as log:
            log.write(f"{ctx.tx_id} {ctx.step_name} {what} attempt={ctx.attempt} pid={os.getpid()} "
                      f"t={time.time():.3f}\n")


@register
class Slow(Step):
    """Record start and end, sleeping `seconds` (wall clock) in between."""

    type_name = "test/slow"
    config_schema = {"type": "object", "properties": {"seconds": {"type": "number"}}}

    def invoke(self, ctx):
        record(ctx, "start")
        time.sleep(ctx.config.get("seconds", 1))
        record(ctx, "end")
        return ctx.succeeded(output={**ctx.input, "done_by": os.getpid(), "attempt": ctx.attempt})


@register
class Record(Step):
    """Record one execution and succeed."""

    type_name = "test/record"
    config_schema = {"type": "object"}

    def invoke(self, ctx):
        record(ctx, "run")
        return ctx.succeeded()


@register
class Item(Step):
    """One item of a fan-out: fail when the input says `fail`, else work up to `seconds` (ending early once
    its cancellation is asked), and succeed with the input."""

    type_name = "test/item"
    config_schema = {"type": "object"}

    def invoke(self, ctx):
        record(ctx, "run")
        if ctx.input.get("fail"):
            return ctx.failed("this item was asked to fail")
        until = time.monotonic() + ctx.input.get("seconds", 0)
        while time.monotonic() < until and not ctx.cancel_requested:
            time.sleep(0.1)
        return ctx.succeeded(output=ctx.input)


@register
class Stamp(Step):
    """Record one execution with the config's `version`, and succeed with the input and that version (the
    version of a pipeline the step ran as, in the run log and in the output)."""

    type_name = "test/stamp"
    config_schema = {"type": "object", "properties": {"version": {"type": "integer"}}, "required": ["version"]}

    def invoke(self, ctx):
        record(ctx, f"version={ctx.config['version']}")
        return ctx.succeeded(output={**ctx.input, "version": ctx.config["version"]})
