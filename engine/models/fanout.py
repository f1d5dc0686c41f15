"""Fan-out: many children of one visit of a parent's step, and their join counted as each child ends.

A `FanOut` holds the counters the join is decided from (updated in the database by each child's end, never
by re-reading the children); a `FanOutItem` holds one item: the data its child starts with, the child once
started, and the child's end once counted. Items past `max_parallel` wait here, unstarted, until a running
child ends.
"""
from django.db import models
from django.db.models import Q

from engine.joins import JOIN_MODES


class FanOut(models.Model):
    tx = models.ForeignKey("engine.Transaction", on_delete=models.CASCADE, related_name="fan_outs", db_index=False)
    # Idempotent per visit, as ctx.start_child: the seq-th start_children of this visit of this step.
    step = models.CharField(max_length=100)
    visit = models.PositiveIntegerField()
    seq = models.PositiveIntegerField()
    pipeline = models.CharField(max_length=100)
    join = models.CharField(max_length=20, choices=[(mode, mode) for mode in JOIN_MODES])
    first_n = models.PositiveIntegerField(null=True, blank=True)
    # The failures tolerated, as given ("5%", 3, or null for the mode's default) and as a count of the total.
    tolerated_given = models.JSONField(null=True, blank=True)
    tolerated = models.PositiveIntegerField()
    max_parallel = models.PositiveIntegerField(null=True, blank=True)
    finish_all = models.BooleanField(default=False)
    total = models.PositiveIntegerField()
    started = models.PositiveIntegerField(default=0)  # items [0, started) have their child
    succeeded = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)  # every end but success
    # Set once, when the join is decided (success or failed) or the parent ended first (closed).
    outcome = models.CharField(max_length=20, null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tx", "step", "visit", "seq"], name="fanout_visit_uniq"),
            models.CheckConstraint(condition=Q(started__lte=models.F("total")), name="fanout_started_le_total"),
            models.CheckConstraint(
                condition=Q(succeeded__lte=models.F("started") - models.F("failed")), name="fanout_ended_le_started"),
        ]

    def __str__(self):
        return f"{self.tx_id} {self.step}#{self.visit}.{self.seq} ({self.succeeded}+{self.failed}/{self.total})"

    @property
    def running(self):
        return self.started - self.succeeded - self.failed

    @property
    def not_started(self):
        return self.total - self.started


class FanOutItem(models.Model):
    fan_out = models.ForeignKey(FanOut, on_delete=models.CASCADE, related_name="items", db_index=False)
    index = models.PositiveIntegerField()
    data = models.JSONField(default=dict)
    child = models.OneToOneField("engine.Transaction", null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="fan_out_item")
    # The child's end, written once when it is counted (the count is exact: a second end cannot count).
    status = models.CharField(max_length=20, null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["fan_out", "index"], name="fanoutitem_index_uniq")]

    def __str__(self):
        return f"{self.fan_out_id}[{self.index}]"
