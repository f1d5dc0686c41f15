"""The closed status vocabularies of the engine and every legal move; no database here."""
from django.db import models


class TxStatus(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    SLEEPING = "sleeping"
    SUCCESS = "success"
    FAILED = "failed"
    ABORTED = "aborted"
    TIMEOUT = "timeout"
    CANCELLED = "cancelled"
    INTERNAL_ERROR = "internal_error"


class StepRunStatus(models.TextChoices):
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"
    ABORTED = "aborted"
    SLEEPING = "sleeping"
    TIMEOUT = "timeout"
    CANCELLED = "cancelled"
    INTERNAL_ERROR = "internal_error"
    LOST = "lost"


class CallbackStatus(models.TextChoices):
    CREATED = "created"
    START = "start"
    PROGRESS = "progress"
    COMPLETE = "complete"
    ERROR = "error"
    CANCEL = "cancel"
    TIMEOUT = "timeout"


class WaitReason(models.TextChoices):
    TIMER = "timer"
    SWITCH = "switch"
    CALLBACK = "callback"
    CHILD = "child"
    CHILDREN = "children"


class SwitchScope(models.TextChoices):
    TRANSACTION = "transaction"
    GLOBAL = "global"


class WebhookStatus(models.TextChoices):
    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"


class BulkAction(models.TextChoices):
    WAKE = "wake"
    RETRY = "retry"
    CANCEL = "cancel"
    SET_SWITCH = "set_switch"
    CLEAR_SWITCH = "clear_switch"
    MOVE_VERSION = "move_version"


class BulkJobStatus(models.TextChoices):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


TX_ACTIVE = frozenset({TxStatus.QUEUED, TxStatus.RUNNING, TxStatus.SLEEPING})
TX_TERMINAL = frozenset(set(TxStatus) - TX_ACTIVE)
# The ends that count as failures (the console's Failures page, the dashboard); each may be retried.
TX_FAILURES = frozenset({TxStatus.FAILED, TxStatus.ABORTED, TxStatus.TIMEOUT, TxStatus.INTERNAL_ERROR})
TX_RETRYABLE = TX_FAILURES
# What a rewind (an operator's move outside the lifecycle `can_move` draws) sends back to the queue at an earlier
# step: every status but running, whose step's own checkpoint decides what follows it.
TX_REWINDABLE = frozenset(set(TxStatus) - {TxStatus.RUNNING})
# What a version move takes: transactions between steps, that no worker holds.
TX_MOVABLE = frozenset({TxStatus.SLEEPING, TxStatus.QUEUED})
# The fixed outcomes a step may end with that `on` routes can catch; a step may also end with a name of its
# own (a named outcome), which ends its step run `success`, or `failed` when no route catches it.
ROUTABLE_OUTCOMES = ("success", "failed", "aborted", "timeout", "cancelled")
# The route key that catches every outcome its step's `on` does not name.
OTHER_OUTCOMES = "*"
# A named outcome: lower-case, like an identifier, and no step run status (those are the fixed outcomes',
# or are no outcome at all: `internal_error`, `running`, ...).
OUTCOME_NAME_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
OUTCOME_NAME_MAX = 64
NOT_OUTCOME_NAMES = frozenset(set(StepRunStatus) - set(ROUTABLE_OUTCOMES))
# What a named outcome's step run ends with: success when a route catches it, else failed.
NAMED_OUTCOME_STATUSES = (StepRunStatus.SUCCESS, StepRunStatus.FAILED)

CALLBACK_ACTIVE = frozenset({CallbackStatus.CREATED, CallbackStatus.START, CallbackStatus.PROGRESS})
CALLBACK_FINAL = frozenset(set(CallbackStatus) - CALLBACK_ACTIVE)
# What an outside reporter may send; `timeout` is only ever forced by the engine.
CALLBACK_REPORTABLE = ("start", "progress", "complete", "error", "cancel")


def _values(statuses):
    """The plain values of a set of statuses, sorted: for `status__in`, index conditions and raw SQL."""
    return tuple(sorted(str(status) for status in statuses))


TX_ACTIVE_VALUES = _values(TX_ACTIVE)
TX_TERMINAL_VALUES = _values(TX_TERMINAL)
TX_FAILURE_VALUES = _values(TX_FAILURES)
CALLBACK_ACTIVE_VALUES = _values(CALLBACK_ACTIVE)
TX_MOVABLE_VALUES = _values(TX_MOVABLE)

_MOVES = {
    TxStatus.QUEUED: {TxStatus.RUNNING, TxStatus.CANCELLED, TxStatus.TIMEOUT},
    TxStatus.RUNNING: {TxStatus.QUEUED, TxStatus.SLEEPING} | TX_TERMINAL,
    TxStatus.SLEEPING: {TxStatus.QUEUED, TxStatus.CANCELLED, TxStatus.TIMEOUT},
    **{status: {TxStatus.QUEUED} for status in TX_RETRYABLE},
    TxStatus.SUCCESS: set(),
    TxStatus.CANCELLED: set(),
}


def can_move(source, target):
    """Tell whether a transaction may move from `source` to `target`."""
    return TxStatus(target) in _MOVES[TxStatus(source)]


def sources_for(target):
    """Every status from which `target` may be reached (for conditional updates)."""
    return [str(source) for source, targets in _MOVES.items() if TxStatus(target) in targets]


def is_terminal(status):
    return TxStatus(status) in TX_TERMINAL


class ScheduleOverlap(models.TextChoices):
    """What a schedule does when a run falls due while a run it started before is still active."""

    SKIP = "skip"
    BUFFER_ONE = "buffer_one"
    ALLOW = "allow"
    CANCEL_PREVIOUS = "cancel_previous"


class ScheduleEventKind(models.TextChoices):
    """A schedule's journal: what happened to a due time that did not start a run, and what people did."""

    CREATED = "created"
    UPDATED = "updated"
    PAUSED = "paused"
    RESUMED = "resumed"
    SKIPPED = "skipped"  # a previous run was still active (overlap skip, or buffer_one's buffer already held)
    BUFFERED = "buffered"  # held by buffer_one until the active run ends
    MISSED = "missed"  # older than the catch-up window when the schedule was looked at
    CANCELLED_PREVIOUS = "cancelled_previous"
    FAILED = "failed"  # the start was refused (the type no longer startable, the data no longer valid)
    TRIGGERED = "triggered"
    BACKFILLED = "backfilled"
    ENDED = "ended"  # no due time left before its end


class ScheduleRunCause(models.TextChoices):
    DUE = "due"
    CATCH_UP = "catch_up"
    BUFFER = "buffer"
    TRIGGER = "trigger"
    BACKFILL = "backfill"
