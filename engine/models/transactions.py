"""Transactions (the queue itself), their step runs and their journal.

Columns that change on every step (status, current step, lease) appear only in partial indexes
over active rows, so that step updates stay cheap; list filters use columns that never change.
Every index costs each status change an insertion: foreign keys get no index of their own where a
composite or partial one already leads with them (Django would add a plain and a LIKE index each).
"""
from django.db import models
from django.db.models import Q

from engine.states import (
    NAMED_OUTCOME_STATUSES,
    OUTCOME_NAME_MAX,
    ROUTABLE_OUTCOMES,
    TX_ACTIVE_VALUES,
    TX_TERMINAL_VALUES,
    StepRunStatus,
    TxStatus,
)

# Index conditions take lists: the migrations wrote them so.
ACTIVE = list(TX_ACTIVE_VALUES)
TERMINAL = list(TX_TERMINAL_VALUES)


class TransactionQuerySet(models.QuerySet):
    def active(self):
        return self.filter(status__in=ACTIVE)

    def finished(self):
        return self.filter(status__in=TERMINAL)

    def for_owner(self, owner):
        return self.filter(owner=owner)


class Transaction(models.Model):
    id = models.CharField(primary_key=True, max_length=40)
    owner = models.ForeignKey("engine.Owner", on_delete=models.PROTECT, related_name="transactions", db_index=False)
    external_id = models.CharField(max_length=128, null=True, blank=True)
    pipeline_name = models.CharField(max_length=100)
    version = models.ForeignKey("engine.PipelineVersion", on_delete=models.PROTECT, related_name="+", db_index=False)
    node_group = models.ForeignKey("engine.NodeGroup", on_delete=models.PROTECT, related_name="+", db_index=False)
    status = models.CharField(max_length=20, choices=TxStatus.choices, default=TxStatus.QUEUED)
    note = models.TextField(null=True, blank=True)
    progress = models.JSONField(null=True, blank=True)
    input = models.JSONField(default=dict)
    metadata = models.JSONField(default=dict)
    output = models.JSONField(null=True, blank=True)
    deadline_at = models.DateTimeField(null=True, blank=True)
    cancel_requested = models.BooleanField(default=False)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="children",
                               db_index=False)
    # Idempotency of ctx.start_child: the n-th child started by one execution of a parent's step.
    parent_key = models.CharField(max_length=200, null=True, blank=True)
    # A background child reports its end to this callback of its parent.
    report_to = models.ForeignKey(
        "engine.Callback", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    webhook_url = models.CharField(max_length=2000, null=True, blank=True)
    webhook_progress = models.BooleanField(default=False)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    queued_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    # Where the transaction stands: the current step, its visit, and how it is being run.
    step_name = models.CharField(max_length=100)
    step_seq = models.PositiveIntegerField(default=0)
    visit = models.PositiveIntegerField(default=1)
    visit_started_at = models.DateTimeField(null=True, blank=True)
    retry_count = models.PositiveIntegerField(default=0)
    attempt = models.PositiveIntegerField(default=1)
    lease_token = models.CharField(max_length=32, null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    node = models.CharField(max_length=100, null=True, blank=True)
    # The input of the next step when the transaction was queued between two steps (a paused group).
    pending_input = models.JSONField(null=True, blank=True)
    # Why the transaction was last woken (timer, switch, callback, child, wake_now); read at the claim.
    wake_reason = models.CharField(max_length=20, null=True, blank=True)

    objects = TransactionQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["node_group", "queued_at"], condition=Q(status="queued"), name="tx_claim_idx"),
            # Running rows are few: lease recovery and concurrency limits read them all. The lease's expiry,
            # renewed at every checkpoint, is not indexed, so that a checkpoint is a HOT update.
            models.Index(fields=["node_group"], condition=Q(status="running"), name="tx_running_idx"),
            models.Index(
                fields=["deadline_at"],
                condition=Q(status__in=ACTIVE, deadline_at__isnull=False),
                name="tx_deadline_idx",
            ),
            models.Index(fields=["owner", "-created_at", "-id"], name="tx_owner_created_idx"),
            # The console's newest-first list for system users, who see every owner.
            models.Index(fields=["-created_at", "-id"], name="tx_created_idx"),
            # With the id, a list by type is read in the list's own order (without it PostgreSQL walked
            # every newer row of the owner, e.g. all the sleepers, to find a page of one type).
            models.Index(fields=["owner", "pipeline_name", "-created_at", "-id"], name="tx_owner_type_list_idx"),
            models.Index(fields=["owner", "status", "-created_at", "-id"], condition=Q(status__in=TERMINAL),
                         name="tx_owner_finished_list_idx"),
            models.Index(fields=["parent", "created_at"], condition=Q(parent__isnull=False), name="tx_parent_idx"),
            models.Index(fields=["report_to"], condition=Q(report_to__isnull=False), name="tx_report_to_idx"),
            models.Index(fields=["completed_at"], condition=Q(completed_at__isnull=False), name="tx_completed_idx"),
            # The figures count sleeping transactions by these (queued and running ones use the two above).
            models.Index(fields=["owner", "pipeline_name", "node_group"], condition=Q(status="sleeping"),
                         name="tx_sleeping_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "external_id"], condition=Q(external_id__isnull=False), name="tx_external_id_uniq"
            ),
            models.UniqueConstraint(
                fields=["parent", "parent_key"], condition=Q(parent_key__isnull=False), name="tx_parent_key_uniq"
            ),
            models.CheckConstraint(condition=Q(status__in=TxStatus.values), name="engine_transaction_status_valid"),
        ]

    def __str__(self):
        return self.id

    @property
    def is_finished(self):
        return self.status in TERMINAL


class StepRun(models.Model):
    """One execution attempt of one step of a transaction."""

    tx = models.ForeignKey(Transaction, on_delete=models.CASCADE, related_name="step_runs", db_index=False)
    seq = models.PositiveIntegerField()
    step = models.CharField(max_length=100)
    step_type = models.CharField(max_length=100)
    status = models.CharField(max_length=20, choices=StepRunStatus.choices, default=StepRunStatus.RUNNING)
    # The name of the named outcome the step ended with (`approved`); null after a fixed one, which the
    # status says, and while it runs.
    outcome = models.CharField(max_length=OUTCOME_NAME_MAX, null=True, blank=True)
    visit = models.PositiveIntegerField(default=1)
    attempt = models.PositiveIntegerField(default=1)
    retry_count = models.PositiveIntegerField(default=0)
    input = models.JSONField(default=dict)
    output = models.JSONField(null=True, blank=True)
    note = models.TextField(null=True, blank=True)
    error = models.TextField(null=True, blank=True)
    logs = models.JSONField(default=list)
    node = models.CharField(max_length=100, null=True, blank=True)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tx", "seq"], name="steprun_tx_seq_uniq"),
            models.CheckConstraint(condition=Q(status__in=StepRunStatus.values), name="engine_steprun_status_valid"),
            # A named outcome ends its step run success or failed, and is never a fixed outcome or a status.
            models.CheckConstraint(
                condition=Q(outcome__isnull=True) | (Q(status__in=NAMED_OUTCOME_STATUSES)
                                                     & ~Q(outcome__in=StepRunStatus.values)),
                name="engine_steprun_outcome_valid"),
        ]
        # The console's last-day figures per pipeline and step read step runs by start time.
        indexes = [models.Index(fields=["started_at"], name="steprun_started_idx")]

    def __str__(self):
        return f"{self.tx_id}#{self.seq} {self.step}"

    @property
    def duration_ms(self):
        if self.ended_at is None:
            return None
        return int((self.ended_at - self.started_at).total_seconds() * 1000)

    @property
    def outcome_name(self):
        """The outcome the step ended with: its named outcome, else the fixed one its status is; None while it
        runs or sleeps, and after internal_error or a lost worker."""
        if self.outcome:
            return self.outcome
        return self.status if self.status in ROUTABLE_OUTCOMES else None


class JournalEntry(models.Model):
    """Append-only: everything that happened to a transaction, with who did it and why."""

    tx = models.ForeignKey(Transaction, on_delete=models.CASCADE, related_name="journal", db_index=False)
    at = models.DateTimeField()
    kind = models.CharField(max_length=40)
    actor = models.CharField(max_length=200)
    step = models.CharField(max_length=100, null=True, blank=True)
    data = models.JSONField(default=dict)

    class Meta:
        indexes = [models.Index(fields=["tx", "id"], name="journal_tx_idx")]
        verbose_name_plural = "journal entries"

    def __str__(self):
        return f"{self.tx_id} {self.kind}"

    @property
    def seq(self):
        return self.id
