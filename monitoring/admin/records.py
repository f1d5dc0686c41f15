"""The engine's other records, read-only: step runs, journal, switches, sleepers, callbacks, webhooks, bulk jobs."""
from django.contrib import admin

from engine.models import (
    BulkJob,
    Callback,
    CallbackUpdate,
    GlobalSwitch,
    GlobalSwitchChange,
    JournalEntry,
    Sleeper,
    StepRun,
    Switch,
    WebhookDelivery,
)
from monitoring.admin.base import ReadOnlyAdmin


class ByTransactionAdmin(ReadOnlyAdmin):
    """A record of one transaction: found by the exact transaction id, never by a scan."""

    raw_id_fields = ("tx",)
    search_fields = ("tx_id",)
    search_help_text = "An exact transaction id."

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        return (queryset.filter(tx_id=term) if term else queryset), False


@admin.register(StepRun)
class StepRunAdmin(ByTransactionAdmin):
    list_display = ("tx_id", "seq", "step", "step_type", "status", "attempt", "node", "started_at", "ended_at")
    list_filter = ("status",)
    ordering = ("-id",)


@admin.register(JournalEntry)
class JournalEntryAdmin(ByTransactionAdmin):
    list_display = ("tx_id", "id", "at", "kind", "actor", "step")
    list_filter = ("kind",)
    ordering = ("-id",)


@admin.register(Switch)
class SwitchAdmin(ByTransactionAdmin):
    list_display = ("tx_id", "name", "value", "unread", "set_at", "set_by")
    ordering = ("-id",)


@admin.register(Sleeper)
class SleeperAdmin(ByTransactionAdmin):
    list_display = ("tx_id", "owner_id", "step", "reason", "switch", "wake_at", "timeout_at", "since")
    list_filter = ("reason", "owner")
    raw_id_fields = ("tx", "callback", "child")
    ordering = ("wake_at",)


@admin.register(Callback)
class CallbackAdmin(ByTransactionAdmin):
    list_display = ("tx_id", "name", "status", "timeout_at", "created_at", "updated_at")
    list_filter = ("status",)
    ordering = ("-id",)

    def get_fields(self, request, obj=None):
        # The salt and the server's secret give the token, a credential: they stay out of the admin.
        return [name for name in super().get_fields(request, obj) if name not in ("token_hash", "token_salt")]


@admin.register(CallbackUpdate)
class CallbackUpdateAdmin(ReadOnlyAdmin):
    list_display = ("callback", "status", "at", "actor")
    list_select_related = ("callback",)
    raw_id_fields = ("callback",)
    ordering = ("-id",)


@admin.register(GlobalSwitch)
class GlobalSwitchAdmin(ReadOnlyAdmin):
    list_display = ("owner", "name", "value", "set_at", "set_by")
    list_filter = ("owner",)
    list_select_related = ("owner",)
    search_fields = ("name",)
    ordering = ("owner", "name")


@admin.register(GlobalSwitchChange)
class GlobalSwitchChangeAdmin(ReadOnlyAdmin):
    list_display = ("switch", "value", "at", "actor", "channel", "reason", "woken")
    list_select_related = ("switch",)
    ordering = ("-id",)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ByTransactionAdmin):
    list_display = ("delivery_id", "tx_id", "owner_id", "event", "status", "attempts", "next_attempt_at",
                    "created_at")
    list_filter = ("status", "event", "owner")
    ordering = ("-created_at",)


@admin.register(BulkJob)
class BulkJobAdmin(ReadOnlyAdmin):
    list_display = ("id", "action", "status", "actor", "total", "done", "skipped", "created_at", "finished_at")
    list_filter = ("action", "status")
    ordering = ("-id",)
