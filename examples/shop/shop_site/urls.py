"""The shop's URL map: its admin and DATP's (/api/v1/, /api/schema/, /api/docs/, /metrics, /mondat/)."""
from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("engine.urls")),  # DATP
]
