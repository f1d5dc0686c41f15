"""Transactions (read-only, exact search by id and external id) with wake, cancel and retry actions, and a move of
sleeping and queued ones to their pipeline's version in use."""
from django.contrib import admin, messages
from django.db.models import Q
from django.urls import reverse
from django.utils.html import format_html

from engine.errors import InvalidRequest
from engine.models import Pipeline, Transaction
from engine.services import transactions as tx_services
from engine.services.version_moves import transaction_move_version
from monitoring.admin.base import ACTION_LIMIT, ADMIN_REASON, ReadOnlyAdmin, admin_actor, apply_each


class PipelineNameFilter(admin.SimpleListFilter):
    """Filter by transaction type, listing names from the pipelines table, not from the transactions."""

    title = "pipeline"
    parameter_name = "pipeline"

    def lookups(self, request, model_admin):
        return [(name, name) for name in Pipeline.objects.order_by("name").values_list("name", flat=True)]

    def queryset(self, request, queryset):
        value = self.value()
        return queryset.filter(pipeline_name=value) if value else queryset


@admin.register(Transaction)
class TransactionAdmin(ReadOnlyAdmin):
    list_display = ("id", "owner", "pipeline_name", "short_version", "status", "step_name", "external_id",
                    "created_at", "updated_at")
    list_filter = ("status", PipelineNameFilter, "node_group", "owner")
    list_select_related = ("owner",)
    search_fields = ("id", "external_id")
    search_help_text = "An exact transaction id or external id."
    ordering = ("-created_at", "-id")
    actions = ("wake", "cancel", "retry", "move_to_version_in_use")
    readonly_fields = ("records",)

    def get_fields(self, request, obj=None):
        return [*super().get_fields(request, obj), "records"]

    def get_search_results(self, request, queryset, search_term):
        # Exact matches only: they use the primary key and the external id index (icontains would scan).
        term = search_term.strip()
        if not term:
            return queryset, False
        return queryset.filter(Q(pk=term) | Q(external_id=term)), False

    @admin.display(description="version", ordering="version")
    def short_version(self, obj):
        return obj.version_id[:12]

    @admin.display(description="records")
    def records(self, obj):
        links = [
            ("step runs", "admin:engine_steprun_changelist"),
            ("journal", "admin:engine_journalentry_changelist"),
            ("switches", "admin:engine_switch_changelist"),
            ("callbacks", "admin:engine_callback_changelist"),
            ("webhook deliveries", "admin:engine_webhookdelivery_changelist"),
        ]
        parts = [format_html('<a href="{}?q={}">{}</a>', reverse(name), obj.pk, label)
                 for label, name in links]
        parts.append(format_html('<a href="{}">MONDAT</a>', reverse("mondat:transaction", args=[obj.pk])))
        return format_html(" · ".join(["{}"] * len(parts)), *parts)

    def _apply(self, request, queryset, service, verb):
        """Call `service` for each selected transaction as the user; report done and refused counts."""
        tx_ids = list(queryset.order_by().values_list("pk", flat=True)[: ACTION_LIMIT + 1])
        if len(tx_ids) > ACTION_LIMIT:
            self.message_user(request, f"More than {ACTION_LIMIT} transactions selected: use a bulk action "
                              "in MONDAT for big sets.", messages.ERROR)
            return
        apply_each(self, request, tx_ids, lambda tx_id: service(tx_id=tx_id, actor=admin_actor(request),
                                                                reason=ADMIN_REASON), "transaction", verb)

    @admin.action(description="Wake the selected sleeping transactions now")
    def wake(self, request, queryset):
        self._apply(request, queryset, tx_services.transaction_wake, "woken")

    @admin.action(description="Cancel the selected transactions")
    def cancel(self, request, queryset):
        self._apply(request, queryset, tx_services.transaction_cancel, "cancelled")

    @admin.action(description="Retry the selected failed transactions")
    def retry(self, request, queryset):
        self._apply(request, queryset, tx_services.transaction_retry, "retried")

    @admin.action(description="Move to the pipeline's version in use")
    def move_to_version_in_use(self, request, queryset):
        """Each selected sleeping or queued transaction moves (on its own, journaled) to its pipeline's version in
        use, resuming at its step there; one already on it, ended, running, or at a step that version lacks is
        refused with the engine's reason."""
        rows = list(queryset.order_by().values_list("pk", "pipeline_name", "version_id")[: ACTION_LIMIT + 1])
        if len(rows) > ACTION_LIMIT:
            self.message_user(request, f"More than {ACTION_LIMIT} transactions selected: move them from the "
                              "pipeline's page in MONDAT.", messages.ERROR)
            return
        in_use = dict(Pipeline.objects.filter(name__in={row[1] for row in rows})
                      .values_list("name", "current_version_id"))
        versions = {row[0]: (row[2], in_use.get(row[1])) for row in rows}

        def move(tx_id):
            from_version, to_version = versions[tx_id]
            if from_version == to_version:
                raise InvalidRequest("It is already on the version in use.")
            transaction_move_version(tx_id=tx_id, from_version=from_version, to_version=to_version,
                                     actor=admin_actor(request), reason=ADMIN_REASON)

        apply_each(self, request, list(versions), move, "transaction", "moved to the version in use")
