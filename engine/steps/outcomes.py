"""The outcomes a step returns: built only through the context, read only by the runtime."""
import re
from dataclasses import dataclass
from datetime import datetime

from engine.states import NOT_OUTCOME_NAMES, OUTCOME_NAME_PATTERN, ROUTABLE_OUTCOMES

OUTCOME_NAME_RE = re.compile(OUTCOME_NAME_PATTERN)


@dataclass(frozen=True)
class Outcome:
    """A step ended: `kind` is a fixed outcome (success, failed, aborted, timeout, cancelled; the runtime's
    internal_error) or a name of the step's own, a named outcome (`approved`)."""

    kind: str
    note: str | None = None
    output: dict | None = None

    @property
    def named(self):
        """Whether this is a named outcome, not a fixed one."""
        return self.kind not in ROUTABLE_OUTCOMES and self.kind not in NOT_OUTCOME_NAMES


def outcome_name_problem(name):
    """Return why `name` cannot be a named outcome (in `ctx.outcome`, a route key, `Step.outcomes`), or None."""
    if not isinstance(name, str) or not OUTCOME_NAME_RE.match(name):
        return "an outcome name is 1 to 64 lower-case letters, digits or _, starting with a letter"
    if name in NOT_OUTCOME_NAMES:
        return f"{name!r} is a step run status, not an outcome a step may end with"
    return None


def undeclared_problem(step_type, name, declared):
    """Return why a step of `step_type`, which declares the outcomes `declared` (None: none), may not end
    with outcome `name`, or None: it may end with those and the fixed ones; declaring none, with any name."""
    if declared is None or name in ROUTABLE_OUTCOMES or name in declared:
        return None
    return f"unknown outcome {name!r} of {step_type.type_name} (its outcomes: {', '.join(declared) or 'none'})"


def returned_problem(step_type, config, outcome):
    """Return why a step of `step_type` with `config` may not end with `outcome` (a name it does not declare,
    or no outcome name at all), or None."""
    if not isinstance(outcome, Outcome) or outcome.kind == "internal_error":
        return None
    problem = outcome_name_problem(outcome.kind)
    if problem:
        return f"an outcome named {outcome.kind!r}: {problem}"
    return undeclared_problem(step_type, outcome.kind, step_type.outcomes_for(config))


@dataclass(frozen=True)
class Wait:
    """Run this step again later: when any of the conditions holds, or at `wake_at`/`timeout_at`."""

    wake_at: datetime | None = None
    timeout_at: datetime | None = None
    switch: str | None = None
    scope: str = "transaction"
    callback: str | None = None
    child: str | None = None
    children: int | None = None  # a fan-out's id: woken when its join is decided
    poll_seconds: float | None = None
    note: str | None = None

    @property
    def time_only(self):
        return self.switch is None and self.callback is None and self.child is None and self.children is None

    @property
    def next_time(self):
        times = [moment for moment in (self.wake_at, self.timeout_at) if moment is not None]
        return min(times) if times else None

    @property
    def reason(self):
        if self.switch is not None:
            return "switch"
        if self.callback is not None:
            return "callback"
        if self.child is not None:
            return "child"
        if self.children is not None:
            return "children"
        return "timer"
