"""Named fault-injection points: tests install a hook that crashes the worker at an exact moment, and
real processes arm them from the environment (DATP_FAULT), so the chaos harness hits the worst races
every run instead of by luck.

    DATP_FAULT="after_step_before_checkpoint:kill:0.05"       SIGKILL this worker at 5 % of the hits
    DATP_FAULT="after_claim:exit:#3"                          os._exit at the 3rd hit in each process
    DATP_FAULT="after_step_before_checkpoint:kill:0.1:slow"   only when the step is named `slow`
    DATP_FAULT="fanout_after_count:kill:once"                 at the first hit of any process (a marker file)

Several specs are separated by commas. Unset (the default), the environment costs one dict lookup.
`once` fires at the first hit among every process that shares the marker folder (DATP_FAULT_DIR, else
DATP_VAR_DIR, else the system's temporary folder): the marker `fault-<point>.hit`, created atomically,
holds the pid that fired, so a test kills exactly one worker at a point and then watches recovery.

The fan-out points (engine/services/fanout.py, fanout_cancel.py) are hit with the fan-out's step as
`step_name`, so a spec's step filter names the parent's step.
"""
import os
import random
import signal
import tempfile
from pathlib import Path
from types import SimpleNamespace

AFTER_CLAIM = "after_claim"
AFTER_STEP_BEFORE_CHECKPOINT = "after_step_before_checkpoint"
# Fan-out (issue 19): the first window of children inserted, before its commit; a child's end counted,
# before the join is decided and the next items start; the join decided, before the parent is woken;
# a decided fan-out's running children being cancelled, between two cancels.
FANOUT_FIRST_WINDOW = "fanout_first_window"
FANOUT_AFTER_COUNT = "fanout_after_count"
FANOUT_AFTER_DECIDE = "fanout_after_decide"
FANOUT_BETWEEN_CANCELS = "fanout_between_cancels"
# Schedules (issue 21): a look at due schedules wrote its starts, runs and journal, before its commit (the node's
# own process: a kill there rolls the whole look back).
SCHEDULE_AFTER_WRITE = "schedule_after_write"
# Version moves (issue 22): a transaction locked and checked for its move, before the conditional update (the
# mover's process: a node claiming or waking the transaction meanwhile passes the locked row by).
VERSION_MOVE_AFTER_LOCK = "version_move_after_lock"
POINTS = (AFTER_CLAIM, AFTER_STEP_BEFORE_CHECKPOINT, FANOUT_FIRST_WINDOW, FANOUT_AFTER_COUNT, FANOUT_AFTER_DECIDE,
          FANOUT_BETWEEN_CANCELS, SCHEDULE_AFTER_WRITE, VERSION_MOVE_AFTER_LOCK)
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


def hit_fan_out(point, *, step, fan_out):
    """Hit a fan-out point: its hooks get an object with `step_name` (the parent's step) and `fan_out` (the id)."""
    hit(point, SimpleNamespace(step_name=step, fan_out=fan_out))


def marker_path(point):
    """The marker file of a `once` fault at `point`."""
    folder = os.environ.get("DATP_FAULT_DIR") or os.environ.get("DATP_VAR_DIR") or tempfile.gettempdir()
    return Path(folder) / f"fault-{point}.hit"


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
    """One armed spec: at `when` (a probability, `#n` for the n-th hit in this process, or `once` for the
    first hit of any process sharing the marker folder), do `action`."""

    def __init__(self, action, when, step=None, point=None):
        if action not in ACTIONS:
            raise ValueError(f"{ENVIRONMENT}: unknown action {action!r} (one of {', '.join(ACTIONS)})")
        self.action, self.step, self.hits, self.point = action, step, 0, point
        self.once = when == "once"
        self.nth = int(when[1:]) if when.startswith("#") else None
        self.probability = None if self.nth is not None or self.once else float(when)

    def __call__(self, run):
        if self.step is not None and getattr(run, "step_name", None) != self.step:
            return
        self.hits += 1
        if self.once:
            due = self._first_anywhere()
        elif self.nth is not None:
            due = self.hits == self.nth
        else:
            due = random.random() < self.probability
        if not due:
            return
        if self.action == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        os._exit(70)

    def _first_anywhere(self):
        try:
            descriptor = os.open(marker_path(self.point), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        os.write(descriptor, f"{os.getpid()}\n".encode())
        os.close(descriptor)
        return True


def parse(text):
    """Return {point: [EnvironmentFault, ...]} for a DATP_FAULT value."""
    armed = {}
    for spec in filter(None, (part.strip() for part in text.split(","))):
        point, action, when, *step = spec.split(":")
        if point not in POINTS:
            raise ValueError(f"{ENVIRONMENT}: unknown fault point {point!r}")
        armed.setdefault(point, []).append(EnvironmentFault(action, when, step[0] if step else None, point))
    return armed
