"""The site's URL map: the API, MONDAT and the Django admin."""
from django.contrib import admin
from django.urls import path

urlpatterns = [
    path("admin/", admin.site.urls),
]
