"""Fan-outs (util/map, ctx.start_children) and their items, read-only: counters, the parent, the children.

A fan-out may have 10,000 items, so they are their own list (filtered by fan-out), never an inline."""
from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from engine.models import FanOut, FanOutItem
from monitoring.admin.base import ReadOnlyAdmin
from monitoring.admin.records import ByTransactionAdmin


def _parent_links(tx_id):
    return format_html('<a href="{}">{}</a> · <a href="{}">MONDAT</a>',
                       reverse("admin:engine_transaction_change", args=[tx_id]), tx_id,
                       reverse("mondat:transaction", args=[tx_id]))


@admin.register(FanOut)
class FanOutAdmin(ByTransactionAdmin):
    list_display = ("id", "parent", "step", "visit", "pipeline", "join", "total", "started", "running",
                    "succeeded", "failed", "not_started", "outcome", "created_at")
    list_filter = ("outcome", "join")
    ordering = ("-id",)

    def get_fields(self, request, obj=None):
        fields = [name for name in super().get_fields(request, obj) if name != "tx"]
        return ["parent", *fields, "running", "not_started", "items_link"]

    @admin.display(description="parent")
    def parent(self, obj):
        return _parent_links(obj.tx_id)

    @admin.display(description="items")
    def items_link(self, obj):
        url = reverse("admin:engine_fanoutitem_changelist")
        return format_html('<a href="{}?fan_out__exact={}">its {} items</a> · <a href="{}?{}">its children in '
                           "MONDAT</a>", url, obj.pk, obj.total, reverse("mondat:transactions"),
                           f"parent_tx_id={obj.tx_id}&fan_out={obj.pk}")


@admin.register(FanOutItem)
class FanOutItemAdmin(ReadOnlyAdmin):
    list_display = ("fan_out", "index", "child", "status")
    list_select_related = ("fan_out",)
    list_filter = ("status",)
    raw_id_fields = ("fan_out", "child")
    search_fields = ("child__id",)
    search_help_text = "An exact child transaction id."
    ordering = ("fan_out", "index")

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        return (queryset.filter(child_id=term) if term else queryset), False
