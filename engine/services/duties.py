"""What a node's duties have to do, read in one prepared statement on PostgreSQL.

An idle node asked a dozen questions every second (queued work? a deadline passed? a callback timed
out? a lease expired? a timer due? a bulk job open? a webhook due? did anything change for the
figures?), each an ORM query, which made most of its idle CPU. `duties_due` asks them all at once, each
answered by a partial index, and the node then runs only the duties with something to do and sleeps
until the earliest future moment. On SQLite it returns None: the node runs every duty each tick.
"""
from dataclasses import dataclass
from datetime import datetime

from engine.services import statements
from engine.states import CALLBACK_ACTIVE_VALUES

ACTIVE_CALLBACKS = ", ".join(f"'{status}'" for status in CALLBACK_ACTIVE_VALUES)
DUE_SQL = f"""
SELECT EXISTS (SELECT 1 FROM engine_transaction WHERE node_group_id = %(group)s AND status = 'queued')
       AND NOT EXISTS (SELECT 1 FROM engine_nodegroup WHERE name = %(group)s AND paused),
       (SELECT deadline_at FROM engine_transaction WHERE status IN ('queued', 'sleeping')
           AND deadline_at IS NOT NULL ORDER BY deadline_at LIMIT 1),
       (SELECT timeout_at FROM engine_callback WHERE status IN ({ACTIVE_CALLBACKS})
           AND timeout_at IS NOT NULL ORDER BY timeout_at LIMIT 1),
       (SELECT min(lease_expires_at) FROM engine_transaction WHERE status = 'running'),
       (SELECT wake_at FROM engine_sleeper WHERE wake_at IS NOT NULL ORDER BY wake_at LIMIT 1),
       EXISTS (SELECT 1 FROM engine_bulkjob WHERE status IN ('pending', 'running')),
       (SELECT next_attempt_at FROM engine_webhookdelivery WHERE status = 'pending' ORDER BY next_attempt_at LIMIT 1),
       (SELECT max(id) FROM engine_journalentry)
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

    def moments(self):
        return [m for m in (self.deadline, self.callback, self.lease, self.timer, self.webhook) if m is not None]


def duties_due(*, group):
    """The answers for a node of `group` (PostgreSQL), or None where the node must ask each duty itself."""
    if not statements.is_postgres():
        return None
    [row] = statements.rows(DUE_SQL, {"group": group})
    return Due(*row)
