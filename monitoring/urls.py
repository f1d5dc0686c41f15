"""MONDAT's URL map under /mondat/ (namespace "mondat")."""
from django.contrib.auth import views as auth_views
from django.urls import path

app_name = "mondat"

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(template_name="registration/login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(next_page="mondat:login"), name="logout"),
]
