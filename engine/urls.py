"""The whole URL map of DATP for a host project: `path("", include("engine.urls"))`.

/api/v1/ (the REST API), /api/schema/ and /api/docs/ (its OpenAPI document and Swagger UI), /metrics
(Prometheus), /mondat/ (the console, when the monitoring app is installed). The paths are fixed: the API's
error handling and its OpenAPI document name /api/, and the console's links /mondat/.
"""
from django.apps import apps
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.negotiation import DefaultContentNegotiation

from engine.api.exceptions import route_not_found
from engine.api.views.metrics import metrics_view

urlpatterns = [
    path("metrics", metrics_view, name="metrics"),
    path("api/v1/", include("engine.api.urls")),
    # The OpenAPI document: YAML by default, JSON with ?format=json or Accept: application/json.
    path("api/schema/", SpectacularAPIView.as_view(content_negotiation_class=DefaultContentNegotiation),
         name="api-schema"),
    # Swagger UI with its set-up script served apart (?script), so that the CSP needs no inline script.
    path("api/docs/",
         SpectacularSwaggerSplitView.as_view(url_name="api-schema", template_name="engine/swagger_ui.html"),
         name="api-docs"),
    re_path(r"^api/", route_not_found),
]
if apps.is_installed("monitoring"):
    urlpatterns.insert(0, path("mondat/", include("monitoring.urls")))
