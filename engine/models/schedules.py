"""Schedules: start a transaction of a type on a calendar (engine.schedules), exactly once per due time."""
from django.db import models
from django.db.models import Q

from engine.states import ScheduleEventKind, ScheduleOverlap, ScheduleRunCause


class Schedule(models.Model):
    name = models.CharField(max_length=64, unique=True)
    owner = models.ForeignKey("engine.Owner", on_delete=models.PROTECT, related_name="schedules")
    description = models.TextField(blank=True, default="")
    transaction_type = models.CharField(max_length=100)
    data = models.JSONField(default=dict, blank=True)
    # Exactly one of cron and interval (an ISO 8601 duration text), read in `timezone` (IANA).
    cron = models.CharField(max_length=120, null=True, blank=True)
    interval = models.CharField(max_length=64, null=True, blank=True)
    timezone = models.CharField(max_length=64, default="UTC")
    start_at = models.DateTimeField(null=True, blank=True)
    end_at = models.DateTimeField(null=True, blank=True)
    overlap = models.CharField(max_length=20, choices=ScheduleOverlap.choices, default=ScheduleOverlap.SKIP)
    catchup_window = models.CharField(max_length=64, default="PT1H")
    jitter = models.CharField(max_length=64, blank=True, default="")
    paused = models.BooleanField(default=False)
    note = models.TextField(blank=True, default="")  # why it was paused or resumed, by whom it says
    # The next due time (None: none is left before end_at), and when the engine looks at the schedule next:
    # that due time plus its jitter, sooner while buffer_one holds a run, None while paused or ended.
    next_due_at = models.DateTimeField(null=True, blank=True)
    look_at = models.DateTimeField(null=True, blank=True)
    buffered_due_at = models.DateTimeField(null=True, blank=True)
    last_due_at = models.DateTimeField(null=True, blank=True)
    created_by = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["look_at"], condition=Q(look_at__isnull=False), name="schedule_look_at_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(overlap__in=ScheduleOverlap.values), name="engine_schedule_overlap_valid"),
            models.CheckConstraint(condition=Q(cron__isnull=True) ^ Q(interval__isnull=True),
                                   name="engine_schedule_cron_or_interval"),
        ]

    def __str__(self):
        return self.name


class ScheduleRun(models.Model):
    """A transaction a schedule started, one per due time; `open` until the schedule saw it end."""

    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="runs", db_index=False)
    due_at = models.DateTimeField()
    tx = models.ForeignKey("engine.Transaction", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                           db_index=False)
    cause = models.CharField(max_length=20, choices=ScheduleRunCause.choices, default=ScheduleRunCause.DUE)
    started_at = models.DateTimeField()
    actor = models.CharField(max_length=200, default="system")
    open = models.BooleanField(default=True)

    class Meta:
        indexes = [
            models.Index(fields=["schedule"], condition=Q(open=True), name="schedulerun_open_idx"),
            models.Index(fields=["tx"], condition=Q(tx__isnull=False), name="schedulerun_tx_idx"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["schedule", "due_at"], name="schedulerun_due_uniq"),
            models.CheckConstraint(condition=Q(cause__in=ScheduleRunCause.values), name="engine_schedulerun_cause_valid"),
        ]


class ScheduleEvent(models.Model):
    """A schedule's journal: due times that started nothing (skipped, buffered, missed) and what people did."""

    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="events", db_index=False)
    at = models.DateTimeField()
    kind = models.CharField(max_length=20, choices=ScheduleEventKind.choices)
    due_at = models.DateTimeField(null=True, blank=True)
    actor = models.CharField(max_length=200, default="system")
    note = models.TextField(blank=True, default="")
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [models.Index(fields=["schedule", "-at", "-id"], name="scheduleevent_list_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=ScheduleEventKind.values), name="engine_scheduleevent_kind_valid"),
        ]
