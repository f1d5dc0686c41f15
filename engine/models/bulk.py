"""Bulk actions of the console: one row per job over a filtered set, done in batches by the nodes."""
from django.db import models
from django.db.models import Q

from engine.states import BulkAction, BulkJobStatus


class BulkJob(models.Model):
    action = models.CharField(max_length=20, choices=BulkAction.choices)
    # The owners in the requester's scope when it was asked (a list of names), or null for every owner.
    owners = models.JSONField(null=True, blank=True)
    filters = models.JSONField(default=dict, blank=True)
    params = models.JSONField(default=dict, blank=True)
    reason = models.TextField(blank=True, default="")
    actor = models.CharField(max_length=200)
    status = models.CharField(max_length=20, choices=BulkJobStatus.choices, default=BulkJobStatus.PENDING)
    total = models.PositiveIntegerField(null=True, blank=True)
    done = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    # The keyset position (created_at, tx_id) of the last transaction handled, so a restarted job goes on.
    cursor = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["created_at"], condition=Q(status__in=["pending", "running"]),
                                name="bulkjob_open_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(action__in=BulkAction.values), name="engine_bulkjob_action_valid"),
            models.CheckConstraint(condition=Q(status__in=BulkJobStatus.values), name="engine_bulkjob_status_valid"),
        ]

    def __str__(self):
        return f"{self.action} #{self.pk} ({self.status})"
