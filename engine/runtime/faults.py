"""Named fault-injection points: tests install a hook that crashes the worker at an exact moment, and
real processes arm them from the environment (DATP_FAULT), so the chaos harness hits the worst races
every run instead of by luck.

    DATP_FAULT="after_step_before_checkpoint:kill:0.05"       SIGKILL this worker at 5 % of the hits
    DATP_FAULT="after_claim:exit:#3"                          os._exit at the 3rd hit in each process
    DATP_FAULT="after_step_before_checkpoint:kill:0.1:slow"   only when the step is named `slow`

Several specs are separated by commas. Unset (the default), the environment costs one dict lookup.
"""
import os
import random
import signal

AFTER_CLAIM = "after_claim"
AFTER_STEP_BEFORE_CHECKPOINT = "after_step_before_checkpoint"
ENVIRONMENT = "DATP_FAULT"
ACTIONS = ("kill", "exit")

_hooks = {}
_armed = None


class WorkerCrash(BaseException):
    """Raised by a hook to simulate the worker dying (a BaseException, so no step code catches it)."""


def hit(point, run):
    hook = _hooks.get(point)
    if hook is not None:
        hook(run)
    global _armed
    if _armed is None:
        _armed = parse(os.environ.get(ENVIRONMENT, ""))
    for fault in _armed.get(point, ()):
        fault(run)


def install(point, hook):
    """Call `hook(run)` at `point` (replacing the hook installed there before)."""
    _hooks[point] = hook


def remove(point, hook):
    """Remove `hook` from `point` if it is the one installed there."""
    if _hooks.get(point) == hook:
        del _hooks[point]


def clear():
    _hooks.clear()


class EnvironmentFault:
    """One armed spec: at `when` (a probability, or `#n` for the n-th hit in this process), do `action`."""

    def __init__(self, action, when, step=None):
        if action not in ACTIONS:
            raise ValueError(f"{ENVIRONMENT}: unknown action {action!r} (one of {', '.join(ACTIONS)})")
        self.action, self.step, self.hits = action, step, 0
        self.nth = int(when[1:]) if when.startswith("#") else None
        self.probability = None if self.nth is not None else float(when)

    def __call__(self, run):
        if self.step is not None and getattr(run, "step_name", None) != self.step:
            return
        self.hits += 1
        due = self.hits == self.nth if self.nth is not None else random.random() < self.probability
        if not due:
            return
        if self.action == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        os._exit(70)


def parse(text):
    """Return {point: [EnvironmentFault, ...]} for a DATP_FAULT value."""
    armed = {}
    for spec in filter(None, (part.strip() for part in text.split(","))):
        point, action, when, *step = spec.split(":")
        if point not in (AFTER_CLAIM, AFTER_STEP_BEFORE_CHECKPOINT):
            raise ValueError(f"{ENVIRONMENT}: unknown fault point {point!r}")
        armed.setdefault(point, []).append(EnvironmentFault(action, when, step[0] if step else None))
    return armed
