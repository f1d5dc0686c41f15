"""The site's URL map: the API, MONDAT and the Django admin."""
from django.contrib import admin
from django.urls import include, path, re_path

from engine.api.exceptions import route_not_found
from engine.api.views.metrics import metrics_view

urlpatterns = [
    path("admin/", admin.site.urls),
    path("metrics", metrics_view, name="metrics"),
    path("api/v1/", include("engine.api.urls")),
    re_path(r"^api/", route_not_found),
]

# Django's error pages, in JSON for /api/ paths and in HTML elsewhere.
handler400 = "engine.api.exceptions.bad_request"
handler403 = "engine.api.exceptions.permission_denied"
handler404 = "engine.api.exceptions.page_not_found"
handler500 = "engine.api.exceptions.server_error"
