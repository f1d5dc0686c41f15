"""Figures the nodes keep for the console and /metrics, so no page counts the transactions table."""
from django.db import models
from django.db.models import Q

from engine.states import TxStatus, WaitReason


class FigureMark(models.Model):
    """The one row saying when the figures were last refreshed and up to which minute they are settled."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    refreshed_at = models.DateTimeField(null=True, blank=True)
    # Minutes before this one are settled: their finishes are in StatusFigure.settled for good.
    settled_until = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"figures as of {self.refreshed_at}"


class StatusFigure(models.Model):
    """Transactions of one owner, pipeline and node group by status: for queued, running and sleeping
    how many are in it now; for a finished status how many have ended in it (a running total)."""

    owner = models.ForeignKey("engine.Owner", on_delete=models.CASCADE, related_name="+")
    pipeline_name = models.CharField(max_length=100)
    node_group = models.CharField(max_length=100)
    status = models.CharField(max_length=20)
    count = models.PositiveBigIntegerField(default=0)
    # Finished statuses only: the part of `count` from settled minutes.
    settled = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["owner", "pipeline_name", "node_group", "status"],
                                    name="statusfigure_key_uniq"),
            models.CheckConstraint(condition=Q(status__in=TxStatus.values), name="engine_statusfigure_status_valid"),
        ]

    def __str__(self):
        return f"{self.owner_id}/{self.pipeline_name}/{self.status}: {self.count}"


class MinuteFigure(models.Model):
    """How many transactions of one owner, pipeline and node group started, and ended in each finished
    status, during one minute (kept for the last few hours)."""

    minute = models.DateTimeField()
    owner = models.ForeignKey("engine.Owner", on_delete=models.CASCADE, related_name="+")
    pipeline_name = models.CharField(max_length=100)
    node_group = models.CharField(max_length=100)
    started = models.PositiveIntegerField(default=0)
    success = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    aborted = models.PositiveIntegerField(default=0)
    timeout = models.PositiveIntegerField(default=0)
    cancelled = models.PositiveIntegerField(default=0)
    internal_error = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["minute", "owner", "pipeline_name", "node_group"],
                                               name="minutefigure_key_uniq")]

    def __str__(self):
        return f"{self.minute:%H:%M} {self.owner_id}/{self.pipeline_name}"

    @property
    def finished(self):
        return self.success + self.failed + self.aborted + self.timeout + self.cancelled + self.internal_error


class SleeperFigure(models.Model):
    """How many transactions of one owner sleep for one wait reason (timer, switch, callback, child) now,
    so that the dashboard never counts the sleeper table."""

    owner = models.ForeignKey("engine.Owner", on_delete=models.CASCADE, related_name="+")
    reason = models.CharField(max_length=20)
    count = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["owner", "reason"], name="sleeperfigure_key_uniq"),
            models.CheckConstraint(condition=Q(reason__in=WaitReason.values), name="engine_sleeperfigure_reason_valid"),
        ]

    def __str__(self):
        return f"{self.owner_id}/{self.reason}: {self.count}"
