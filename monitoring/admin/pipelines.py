"""Node groups (pause and resume through the engine's service), nodes, pipelines and their versions."""
from django.contrib import admin, messages
from django.db.models import Count
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from engine.models import Node, NodeGroup, Pipeline, PipelineVersion
from engine.services.pipelines import node_group_update
from monitoring.admin.base import ReadOnlyAdmin


@admin.register(NodeGroup)
class NodeGroupAdmin(ReadOnlyAdmin):
    list_display = ("name", "paused", "max_concurrency", "created_at")
    list_filter = ("paused",)
    search_fields = ("name",)
    ordering = ("name",)
    actions = ("pause", "resume")

    def _set_paused(self, request, queryset, paused):
        names = list(queryset.values_list("name", flat=True))
        for name in names:
            node_group_update(name=name, paused=paused)
        word = "paused" if paused else "resumed"
        self.message_user(request, f"{len(names)} node group(s) {word}.", messages.SUCCESS)

    @admin.action(description="Pause the selected node groups")
    def pause(self, request, queryset):
        self._set_paused(request, queryset, True)

    @admin.action(description="Resume the selected node groups")
    def resume(self, request, queryset):
        self._set_paused(request, queryset, False)


@admin.register(Node)
class NodeAdmin(ReadOnlyAdmin):
    list_display = ("node_id", "group", "host", "pid", "workers", "started_at", "last_seen_at", "stopping")
    list_filter = ("group", "stopping")
    ordering = ("group", "node_id")


@admin.register(Pipeline)
class PipelineAdmin(ReadOnlyAdmin):
    list_display = ("name", "node_group", "transaction_type", "current_version", "version_count", "updated_at")
    list_filter = ("node_group", "transaction_type")
    list_select_related = ("node_group", "current_version")
    search_fields = ("name",)
    ordering = ("name",)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(version_total=Count("versions"))

    def get_fields(self, request, obj=None):
        return [*super().get_fields(request, obj), "versions_list"]

    @admin.display(description="versions", ordering="version_total")
    def version_count(self, obj):
        return obj.version_total

    @admin.display(description="every version")
    def versions_list(self, obj):
        """Its versions, newest first, the one in use marked, each linked to its definition; and to MONDAT, where
        transactions move between them."""
        versions = PipelineVersion.objects.filter(pipeline_id=obj.pk).only("version", "created_at").order_by(
            "-created_at", "-version")
        rows = format_html_join("", '<li><a href="{}"><code>{}</code></a> {}{}</li>', (
            (reverse("admin:engine_pipelineversion_change", args=[v.pk]), v.pk[:12], f"{v.created_at:%Y-%m-%d %H:%M:%S}",
             " (in use)" if v.pk == obj.current_version_id else "") for v in versions))
        return format_html('<ul class="datp-versions">{}</ul><a href="{}">Move transactions between versions in '
                           "MONDAT</a>", rows, reverse("mondat:pipeline_move", args=[obj.pk]))


@admin.register(PipelineVersion)
class PipelineVersionAdmin(ReadOnlyAdmin):
    list_display = ("__str__", "pipeline", "version", "created_at")
    list_filter = ("pipeline",)
    search_fields = ("=version", "=pipeline__name")
    ordering = ("-created_at",)
    list_select_related = ("pipeline",)

    def get_queryset(self, request):
        # The list never loads the definitions, which can be large.
        queryset = super().get_queryset(request)
        if request.resolver_match and request.resolver_match.url_name.endswith("changelist"):
            return queryset.defer("definition")
        return queryset
