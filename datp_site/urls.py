"""The site's URL map: the API, MONDAT and the Django admin."""
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.negotiation import DefaultContentNegotiation

from engine.api.exceptions import route_not_found
from engine.api.views.metrics import metrics_view

urlpatterns = [
    path("", RedirectView.as_view(url="/mondat/", permanent=False)),
    path("admin/", admin.site.urls),
    path("mondat/", include("monitoring.urls")),
    path("metrics", metrics_view, name="metrics"),
    path("api/v1/", include("engine.api.urls")),
    # The OpenAPI document: YAML by default, JSON with ?format=json or Accept: application/json.
    path("api/schema/", SpectacularAPIView.as_view(content_negotiation_class=DefaultContentNegotiation),
         name="api-schema"),
    # Swagger UI with its set-up script served apart (?script), so that the CSP needs no inline script.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema", template_name="engine/swagger_ui.html"),
         name="api-docs"),
    re_path(r"^api/", route_not_found),
]

# Django's error pages, in JSON for /api/ paths and in HTML elsewhere.
handler400 = "engine.api.exceptions.bad_request"
handler403 = "engine.api.exceptions.permission_denied"
handler404 = "engine.api.exceptions.page_not_found"
handler500 = "engine.api.exceptions.server_error"
