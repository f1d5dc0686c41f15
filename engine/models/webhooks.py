"""The webhook outbox: one row per delivery, sent by the nodes."""
import uuid

from django.db import models
from django.db.models import Q

from engine.states import WebhookStatus


class WebhookDelivery(models.Model):
    delivery_id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tx = models.ForeignKey("engine.Transaction", on_delete=models.CASCADE, related_name="webhook_deliveries")
    owner = models.ForeignKey("engine.Owner", on_delete=models.CASCADE, related_name="+")
    event = models.CharField(max_length=40)
    url = models.CharField(max_length=2000)
    payload = models.JSONField()
    status = models.CharField(max_length=20, choices=WebhookStatus.choices, default=WebhookStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField()
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["next_attempt_at"], condition=Q(status="pending"), name="webhook_due_idx"),
            models.Index(fields=["owner", "status", "-created_at"], name="webhook_owner_status_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=WebhookStatus.values), name="engine_webhookdelivery_status_valid"
            ),
        ]
        verbose_name_plural = "webhook deliveries"

    def __str__(self):
        return f"{self.event} {self.delivery_id}"
