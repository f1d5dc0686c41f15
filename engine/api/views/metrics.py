"""GET /metrics: Prometheus text of the database's figures (public unless DATP_METRICS_PUBLIC is false)."""
from django.http import HttpResponse, HttpResponseForbidden
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from engine import conf
from engine.metrics import DatabaseCollector


def metrics_view(request):
    if not conf.get("METRICS_PUBLIC") and not (request.user.is_authenticated and request.user.is_staff):
        return HttpResponseForbidden("metrics are not public")
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
