"""The retry policy of a step that raised: run it again after its backoff, or end it, saying why it was not
retried (a PermanentError, a class the policy lists in `non_retryable`, its attempts used up)."""
from dataclasses import dataclass, replace

from engine import durations
from engine.services.runs import step_definition
from engine.steps.errors import Raised
from engine.steps.outcomes import Outcome, Wait

# What a caller that passes a traceback but no `Raised` reports: an exception of a class nobody lists.
UNKNOWN = Raised("Exception")


@dataclass(frozen=True)
class Verdict:
    """Run the step again (`wait`), or record `outcome`; `reason` says why it was not retried (None when the
    step has no retry policy, so was never going to be)."""

    wait: Wait | None = None
    outcome: Outcome | None = None
    reason: str | None = None


def _not_retried(outcome, reason, *, kind="internal_error"):
    note = f"{outcome.note}; not retried: {reason}" if outcome.note else f"not retried: {reason}"
    return Verdict(outcome=replace(outcome, kind=kind, note=note), reason=reason)


def retry_verdict(run, *, outcome, raised, now):
    """Decide what follows `outcome`, the internal_error of a step that raised `raised` (a Raised)."""
    if raised.permanent:  # the step's author says its input is bad: a failure, whatever the policy
        what = "PermanentError" if raised.name == "PermanentError" else f"{raised.name} is a PermanentError"
        return _not_retried(outcome, what, kind="failed")
    policy = step_definition(version_id=run.version_id, step_name=run.step_name).get("retry")
    if policy is None:  # no policy: no retries; {} is the default policy
        return Verdict(outcome=outcome)
    listed = raised.listed_in(policy.get("non_retryable", ()))
    if listed is not None:
        as_listed = "" if listed == raised.name else f" (as {listed})"
        return _not_retried(outcome, f"{raised.name} is in non_retryable{as_listed}")
    attempts = int(policy.get("max_attempts", 3))
    if run.retry_count + 1 >= attempts:
        return _not_retried(outcome, f"attempts exhausted ({min(run.retry_count + 1, attempts)} of {attempts})")
    try:
        backoff = durations.seconds(policy.get("backoff", "PT1S"), now)
        ceiling = durations.seconds(policy.get("max_backoff", "PT5M"), now)
        delay = min(backoff * (2 ** run.retry_count), ceiling)
        wake_at = durations.add(now, delay)
    except durations.BadDuration as exc:  # checked when loaded, but from a "now" that has since moved on
        return _not_retried(outcome, f"the next attempt's time is out of range ({exc})")
    return Verdict(wait=Wait(wake_at=wake_at, note=f"retry policy: again in {delay:g} s"))
