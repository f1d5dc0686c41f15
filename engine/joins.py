"""How many children decide a join: the modes, the tolerated failures, and the decision from the counts.

A leaf with no ORM (as engine.states): the fan-out service counts the children's ends in the database and
asks `decide` after each; util/map and ctx.start_children check their settings with `join_problem`.

- `all` (the default) waits for every child, whatever its end; it fails only when more children failed than
  `tolerated_failures` allows (unlimited unless given), like Promise.allSettled with a limit.
- `all_success` needs every child to succeed: `tolerated_failures` defaults to 0 (Step Functions' Map).
- `any` succeeds at the first child that succeeds; `first_n` when `n` have. Either fails once that can no
  longer happen (or when more failed than tolerated).

A failure beyond the tolerance decides the join at once (fail fast: the running children are cancelled
and the rest never start) unless `finish_all`, which lets every child end first. A success of `any` or
`first_n` decided early cancels the others too.
"""
import re
from dataclasses import dataclass

JOIN_MODES = ("all", "all_success", "any", "first_n")
ON_FAILURE = ("fail_fast", "finish_all")
PERCENT = re.compile(r"^(\d+(?:\.\d+)?)\s*%$")
SUCCESS, FAILED = "success", "failed"


@dataclass(frozen=True)
class Counts:
    """Where a join stands: `total` children, `succeeded` and `failed` (every end but success) so far."""

    total: int
    succeeded: int
    failed: int

    @property
    def ended(self):
        return self.succeeded + self.failed

    @property
    def remaining(self):
        return self.total - self.ended


def tolerated_count(tolerated, *, join, total):
    """The number of failures `tolerated` allows among `total` children: a count, a percentage ("5%", of the
    total, rounded down, as Step Functions does), or None for the mode's default."""
    if tolerated is None:
        return 0 if join == "all_success" else total
    if isinstance(tolerated, str):
        return int(total * float(PERCENT.match(tolerated).group(1)) / 100)
    return tolerated


def needed(join, *, first_n=None):
    """The successes that decide a success early (None: only the end of every child decides)."""
    return {"any": 1, "first_n": first_n}.get(join)


def decide(counts, *, join, tolerated, first_n=None, finish_all=False):
    """Return "success", "failed", or None while the join is undecided."""
    want = needed(join, first_n=first_n)
    if want is not None and counts.succeeded >= want:
        return SUCCESS
    hopeless = counts.failed > tolerated or (want is not None and counts.succeeded + counts.remaining < want)
    if hopeless:
        return FAILED if not finish_all or counts.remaining == 0 else None
    if counts.remaining == 0:
        return SUCCESS if want is None else FAILED
    return None


def join_problem(*, join, tolerated, first_n, max_parallel, on_failure):
    """Say what is wrong with a join's settings, as (field, problem), or None."""
    if join not in JOIN_MODES:
        return "join", f"must be one of {', '.join(JOIN_MODES)}"
    if (join == "first_n") != (first_n is not None):
        return "first_n", "is required with join first_n, and only with it"
    if first_n is not None and (isinstance(first_n, bool) or not isinstance(first_n, int) or first_n < 1):
        return "first_n", "must be a whole number of at least 1"
    if tolerated is not None:
        if isinstance(tolerated, str):
            found = PERCENT.match(tolerated)
            if found is None or float(found.group(1)) > 100:
                return "tolerated_failures", "must be a count or a percentage from 0% to 100%, e.g. \"5%\""
        elif isinstance(tolerated, bool) or not isinstance(tolerated, int) or tolerated < 0:
            return "tolerated_failures", "must be a count of at least 0 or a percentage, e.g. \"5%\""
    if max_parallel is not None and (isinstance(max_parallel, bool) or not isinstance(max_parallel, int)
                                     or max_parallel < 1):
        return "max_parallel", "must be a whole number of at least 1"
    if on_failure not in ON_FAILURE:
        return "on_failure", f"must be one of {', '.join(ON_FAILURE)}"
    return None


@dataclass(frozen=True)
class ChildGroup:
    """What a step sees of its fan-out (ctx.start_children): the counts, the decision once made, and then the
    results in item order, each {"index", "tx_id", "status", "data"} (status "not_started" for an item whose
    child never started; data the child's output once it ended)."""

    id: int
    pipeline: str
    join: str
    total: int
    started: int
    succeeded: int
    failed: int
    tolerated: int
    tolerated_given: int | str | None = None  # as the step gave it: a count, "5%", or None (the default)
    outcome: str | None = None
    results: list | None = None

    @property
    def decided(self):
        return self.outcome is not None

    @property
    def running(self):
        return self.started - self.succeeded - self.failed

    @property
    def not_started(self):
        return self.total - self.started

    def describe(self):
        """The line a waiting parent shows: "waiting for 9,412 of 10,000 children (3 failed, 5 % tolerated)"."""
        if self.decided:
            return (f"{self.total:,} children: {self.succeeded:,} succeeded, {self.failed:,} failed, "
                    f"{self.not_started:,} not started; join {self.join}: {self.outcome}")
        waiting = self.total - self.succeeded - self.failed
        if isinstance(self.tolerated_given, str):
            tolerated = f", {self.tolerated_given.replace('%', '').strip()} % tolerated"
        else:
            tolerated = "" if self.tolerated >= self.total else f", {self.tolerated:,} tolerated"
        return f"waiting for {waiting:,} of {self.total:,} children ({self.failed:,} failed{tolerated})"
