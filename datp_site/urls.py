"""The site's URL map: DATP's (engine/urls.py: the API, its documents, /metrics and MONDAT) and the admin."""
from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path("", RedirectView.as_view(url="/mondat/", permanent=False)),
    path("admin/", admin.site.urls),
    path("", include("engine.urls")),
]

# Django's error pages, in JSON for /api/ paths and in HTML elsewhere.
handler400 = "engine.api.exceptions.bad_request"
handler403 = "engine.api.exceptions.permission_denied"
handler404 = "engine.api.exceptions.page_not_found"
handler500 = "engine.api.exceptions.server_error"
