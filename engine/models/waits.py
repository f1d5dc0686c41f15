"""What transactions wait on: switches (per transaction and global), sleepers and callbacks."""
from django.db import models
from django.db.models import Q

from engine.states import CALLBACK_ACTIVE_VALUES, CallbackStatus, SwitchScope, WaitReason


class Switch(models.Model):
    tx = models.ForeignKey("engine.Transaction", on_delete=models.CASCADE, related_name="switches")
    name = models.CharField(max_length=64)
    value = models.JSONField(null=True, blank=True)
    # Set by a change, cleared when a step reads the switch: closes the set-while-running race.
    unread = models.BooleanField(default=False)
    set_at = models.DateTimeField(null=True, blank=True)
    set_by = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tx", "name"], name="switch_tx_name_uniq")]
        verbose_name_plural = "switches"

    def __str__(self):
        return f"{self.tx_id}:{self.name}"


class GlobalSwitch(models.Model):
    owner = models.ForeignKey("engine.Owner", on_delete=models.CASCADE, related_name="global_switches")
    name = models.CharField(max_length=64)
    value = models.JSONField(null=True, blank=True)
    set_at = models.DateTimeField(null=True, blank=True)
    set_by = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["owner", "name"], name="gswitch_owner_name_uniq")]
        verbose_name_plural = "global switches"

    def __str__(self):
        return f"{self.owner_id}:{self.name}"


class GlobalSwitchChange(models.Model):
    """The history of a global switch (a transaction's switch history is its journal)."""

    switch = models.ForeignKey(GlobalSwitch, on_delete=models.CASCADE, related_name="changes")
    value = models.JSONField(null=True, blank=True)
    at = models.DateTimeField()
    actor = models.CharField(max_length=200)
    channel = models.CharField(max_length=40)
    reason = models.TextField(blank=True, default="")
    woken = models.PositiveIntegerField(default=0)


class SleeperQuerySet(models.QuerySet):
    def due(self, now):
        return self.filter(wake_at__lte=now).order_by("wake_at")


class Sleeper(models.Model):
    """A sleeping transaction: what it waits for. Exists exactly while the transaction sleeps."""

    tx = models.OneToOneField("engine.Transaction", primary_key=True, on_delete=models.CASCADE, related_name="sleeper")
    owner = models.ForeignKey("engine.Owner", on_delete=models.CASCADE, related_name="+")
    step = models.CharField(max_length=100)
    reason = models.CharField(max_length=20, choices=WaitReason.choices)
    # The earliest time the step must run again (its timer or its wait's timeout); null: no timer.
    wake_at = models.DateTimeField(null=True, blank=True)
    timeout_at = models.DateTimeField(null=True, blank=True)
    switch = models.CharField(max_length=64, null=True, blank=True)
    scope = models.CharField(max_length=20, choices=SwitchScope.choices, default=SwitchScope.TRANSACTION)
    callback = models.ForeignKey("engine.Callback", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    child = models.ForeignKey(
        "engine.Transaction", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    # The children of a fan-out (ctx.start_children, util/map): woken once, when their join is decided.
    fan_out = models.ForeignKey("engine.FanOut", null=True, blank=True, on_delete=models.CASCADE, related_name="+",
                                db_index=False)
    poll_seconds = models.FloatField(null=True, blank=True)
    since = models.DateTimeField()

    objects = SleeperQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["wake_at"], condition=Q(wake_at__isnull=False), name="sleeper_due_idx"),
            models.Index(
                fields=["owner", "scope", "switch"], condition=Q(switch__isnull=False), name="sleeper_switch_idx"
            ),
            models.Index(fields=["callback"], condition=Q(callback__isnull=False), name="sleeper_callback_idx"),
            models.Index(fields=["child"], condition=Q(child__isnull=False), name="sleeper_child_idx"),
            models.Index(fields=["owner", "reason", "wake_at"], name="sleeper_owner_reason_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(reason__in=WaitReason.values), name="engine_sleeper_reason_valid"),
            models.CheckConstraint(condition=Q(scope__in=SwitchScope.values), name="engine_sleeper_scope_valid"),
        ]

    def __str__(self):
        return f"{self.tx_id} ({self.reason})"


class Callback(models.Model):
    tx = models.ForeignKey("engine.Transaction", on_delete=models.CASCADE, related_name="callbacks")
    name = models.CharField(max_length=64)
    # The token is a credential: only its SHA-256 is stored; it is derived again from the salt under
    # the server's secret (engine.tokens). An empty salt: a token from before hashing, not derivable.
    token_hash = models.CharField(max_length=64, unique=True)
    token_salt = models.CharField(max_length=32, blank=True, default="")
    status = models.CharField(max_length=20, choices=CallbackStatus.choices, default=CallbackStatus.CREATED)
    callback_data = models.JSONField(default=dict)
    data = models.JSONField(default=dict)
    timeout_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tx", "name"], name="callback_tx_name_uniq"),
            models.CheckConstraint(condition=Q(status__in=CallbackStatus.values), name="engine_callback_status_valid"),
        ]
        indexes = [
            models.Index(
                fields=["timeout_at"],
                condition=Q(status__in=list(CALLBACK_ACTIVE_VALUES), timeout_at__isnull=False),
                name="callback_timeout_idx",
            )
        ]

    def __str__(self):
        return f"{self.tx_id}:{self.name}"

    @property
    def is_final(self):
        return self.status not in CALLBACK_ACTIVE_VALUES


class CallbackUpdate(models.Model):
    callback = models.ForeignKey(Callback, on_delete=models.CASCADE, related_name="updates")
    status = models.CharField(max_length=20, choices=CallbackStatus.choices)
    data = models.JSONField(default=dict)
    at = models.DateTimeField()
    actor = models.CharField(max_length=200)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=CallbackStatus.values), name="engine_callbackupdate_status_valid"
            ),
        ]
