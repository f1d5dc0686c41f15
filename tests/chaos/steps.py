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


def gate(ctx, name, seconds=120):
    """Wait until the harness creates the marker `<run log>.<tx>.<name>` (at most `seconds`), so a race
    window is held open exactly as long as the harness needs, whatever the machine's load."""
    path = f"{os.environ.get('DATP_TEST_RUNLOG')}.{ctx.tx_id}.{name}"
    deadline = time.monotonic() + seconds
    while not os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(0.02)


def runs_so_far(ctx):
    """How many executions of this step of this transaction the run log already has (any process)."""
    try:
        with open(os.environ.get("DATP_TEST_RUNLOG", "")) as log:
            return sum(line.startswith(f"{ctx.tx_id} {ctx.step_name} start ") for line in log)
    except OSError:
        return 0


@register
class ReadSwitch(Step):
    """Succeed with the switch's value once it is set; sleep on the switch otherwise.

    With `gate` in the input, the n-th execution waits for the harness's marker `read-<n>` before it
    reads the switch, records `got`, and waits for `sleep-<n>` before it returns (goes to sleep): the
    window in which concurrent sets race the sleep. Without it, `work` seconds of sleep are the window."""

    type_name = "chaos/read-switch"
    config_schema = {"type": "object", "properties": {"switch": {"type": "string"}}}

    def invoke(self, ctx):
        gated = ctx.input.get("gate", False)
        nth = runs_so_far(ctx)
        record(ctx, "start")
        name = ctx.config.get("switch", "go")
        if gated:
            gate(ctx, f"read-{nth}")
        value = ctx.get_switch(name)
        record(ctx, "got")
        if gated:
            gate(ctx, f"sleep-{nth}")
        else:
            time.sleep(ctx.input.get("work", 0))
        record(ctx, "end")
        if value is not None:
            return ctx.succeeded(output={"seen": value, "retry": ctx.retry_count})
        return ctx.wait(switch=name, note=f"waiting for {name}")
