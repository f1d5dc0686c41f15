"""Step types of the chaos harness (loaded by nodes through DATP_STEP_MODULES): each execution is
recorded in the run log with the identity of its step run, so the checks can find doubles and overlaps."""
import os
import signal
import time

from engine.steps import Step, register


def record(ctx, what):
    """Append one line to the run log (O_APPEND, one write: atomic across processes)."""
    path = os.environ.get("DATP_TEST_RUNLOG")
    if not path:
        return
    visit = ctx.visit_started_at.timestamp() if ctx.visit_started_at else 0
    line = (f"{ctx.tx_id} {ctx.step_name} {what} visit={visit:.6f} retry={ctx.retry_count} "
            f"attempt={ctx.attempt} pid={os.getpid()} t={time.time():.6f}\n")
    with open(path, "a") as log:
        log.write(line)


@register
class Work(Step):
    """Record start and end around `seconds` of wall-clock work (the input's `work` overrides it)."""

    type_name = "chaos/work"
    config_schema = {"type": "object", "properties": {"seconds": {"type": "number"}}}

    def invoke(self, ctx):
        record(ctx, "start")
        seconds = ctx.input.get("work", ctx.config.get("seconds", 0))
        if seconds:
            time.sleep(seconds)
        record(ctx, "end")
        return ctx.succeeded(output={**ctx.input, "attempt": ctx.attempt})


@register
class Crash(Step):
    """Take the whole worker process down, the way the input's (or config's) `crash` says."""

    type_name = "chaos/crash"
    config_schema = {"type": "object", "properties": {"crash": {"enum": ["exit", "segfault", "oom"]}}}

    def invoke(self, ctx):
        record(ctx, "start")
        how = ctx.input.get("crash", ctx.config.get("crash", "exit"))
        record(ctx, "end")
        if how == "segfault":
            os.kill(os.getpid(), signal.SIGSEGV)
        elif how == "oom":
            os.kill(os.getpid(), signal.SIGKILL)  # what the kernel's OOM killer sends
        os._exit(3)


@register
class ReadSwitch(Step):
    """Succeed with the switch's value once it is set; sleep on the switch otherwise."""

    type_name = "chaos/read-switch"
    config_schema = {"type": "object", "properties": {"switch": {"type": "string"}}}

    def invoke(self, ctx):
        record(ctx, "start")
        name = ctx.config.get("switch", "go")
        value = ctx.get_switch(name)
        time.sleep(ctx.input.get("work", 0))  # the window in which concurrent sets race the sleep
        record(ctx, "end")
        if value is not None:
            return ctx.succeeded(output={"seen": value, "retry": ctx.retry_count})
        return ctx.wait(switch=name, note=f"waiting for {name}")
