"""What is due next: the one read behind a node's tick, the waker's next moment and the test harness's
clock.

An idle node asked a dozen questions every second (queued work? a deadline passed? a callback timed
out? a lease expired? a timer due? a schedule due? a bulk job open? a webhook due? did anything change for the
figures?), each an ORM query, which made most of its idle CPU. `duties_due` asks them all at once, each
answered by a partial index, and the node then runs only the duties with something to do and sleeps
until the earliest future moment. On PostgreSQL that is one prepared statement; elsewhere (or with
`DATP["FAST_PATHS"]` off) the same questions are asked with the ORM, one query each.
"""
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Max, Min

from engine.models import (
    BulkJob,
    Callback,
    JournalEntry,
    NodeGroup,
    Schedule,
    Sleeper,
    Transaction,
    WebhookDelivery,
)
from engine.services import statements
from engine.states import CALLBACK_ACTIVE_VALUES, BulkJobStatus, TxStatus, WebhookStatus

DEADLINED = (TxStatus.QUEUED, TxStatus.SLEEPING)  # a deadline applies while a transaction waits
OPEN_BULK = (BulkJobStatus.PENDING, BulkJobStatus.RUNNING)

DUE_SQL = f"""
SELECT EXISTS (SELECT 1 FROM engine_transaction WHERE node_group_id = %(group)s AND status = '{TxStatus.QUEUED.value}')
       AND NOT EXISTS (SELECT 1 FROM engine_nodegroup WHERE name = %(group)s AND paused),
       (SELECT deadline_at FROM engine_transaction WHERE status IN {statements.sql_values(DEADLINED)}
           AND deadline_at IS NOT NULL ORDER BY deadline_at LIMIT 1),
       (SELECT timeout_at FROM engine_callback WHERE status IN {statements.sql_values(CALLBACK_ACTIVE_VALUES)}
           AND timeout_at IS NOT NULL ORDER BY timeout_at LIMIT 1),
       (SELECT min(lease_expires_at) FROM engine_transaction WHERE status = '{TxStatus.RUNNING.value}'),
       (SELECT wake_at FROM engine_sleeper WHERE wake_at IS NOT NULL ORDER BY wake_at LIMIT 1),
       EXISTS (SELECT 1 FROM engine_bulkjob WHERE status IN {statements.sql_values(OPEN_BULK)}),
       (SELECT next_attempt_at FROM engine_webhookdelivery WHERE status = '{WebhookStatus.PENDING.value}'
           ORDER BY next_attempt_at LIMIT 1),
       (SELECT max(id) FROM engine_journalentry),
       (SELECT look_at FROM engine_schedule WHERE look_at IS NOT NULL ORDER BY look_at LIMIT 1)
"""


@dataclass(frozen=True)
class Due:
    """The answers: whether work is queued (and the group not paused), the earliest moment of each timed
    duty (None: nothing waits), whether a bulk job is open, and the newest journal entry's id (anything
    that changes a figure writes one)."""

    queued: bool
    deadline: datetime | None
    callback: datetime | None
    lease: datetime | None
    timer: datetime | None
    bulk: bool
    webhook: datetime | None
    journal: int | None
    schedule: datetime | None = None

    def moments(self, *, webhooks=True):
        """The moments at which a timed duty has something to do; `webhooks=False` leaves out the webhook
        sender's (the test harness sends none)."""
        timed = (self.deadline, self.callback, self.lease, self.timer, self.schedule) + \
            ((self.webhook,) if webhooks else ())
        return [moment for moment in timed if moment is not None]


def duties_due(*, group=None):
    """Read what is due for a node of `group` (no group: nothing counts as queued)."""
    if statements.fast_paths():
        [row] = statements.rows(DUE_SQL, {"group": group})
        return Due(*row)
    return _due_general(group)


def next_due_at(*, webhooks=True):
    """Return the earliest moment at which a timed duty will have something to do, or None."""
    moments = duties_due().moments(webhooks=webhooks)
    return min(moments) if moments else None


def _first(queryset, field):
    return queryset.order_by(field).values_list(field, flat=True).first()


def _due_general(group):
    answers = {
        "queued": Transaction.objects.filter(node_group_id=group, status=TxStatus.QUEUED).exists()
        and not NodeGroup.objects.filter(name=group, paused=True).exists(),
        "deadline": _first(Transaction.objects.filter(status__in=DEADLINED, deadline_at__isnull=False), "deadline_at"),
        "callback": _first(Callback.objects.filter(status__in=CALLBACK_ACTIVE_VALUES, timeout_at__isnull=False),
                           "timeout_at"),
        "lease": Transaction.objects.filter(status=TxStatus.RUNNING).aggregate(at=Min("lease_expires_at"))["at"],
        "timer": _first(Sleeper.objects.filter(wake_at__isnull=False), "wake_at"),
        "bulk": BulkJob.objects.filter(status__in=OPEN_BULK).exists(),
        "webhook": _first(WebhookDelivery.objects.filter(status=WebhookStatus.PENDING), "next_attempt_at"),
        "journal": JournalEntry.objects.aggregate(newest=Max("id"))["newest"],
        "schedule": _first(Schedule.objects.filter(look_at__isnull=False), "look_at"),
    }
    return Due(**answers)
