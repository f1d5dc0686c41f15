"""MONDAT's Owner settings page: each of the user's owners with its API keys and (for admins) its webhook
secret; admins create a key (its raw value shown once, on that response only), revoke keys, rotate the secret."""
import logging

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect
from django.utils.cache import add_never_cache_headers
from django.views.decorators.debug import sensitive_variables
from django.views.generic import TemplateView

from engine.errors import NotFound
from engine.selectors import owner_exists
from engine.selectors.owners import owner_settings_list, owner_webhook_secret
from engine.services.owners import api_key_create, api_key_revoke, owner_rotate_webhook_secret
from monitoring.views.base import ConsoleMixin, ConsoleView

logger = logging.getLogger("monitoring.actions")

KEY_NAME_MAX = 100


class OwnerScopedMixin:
    """`check_owner(name)`: a 404 unless the owner exists and is in the user's scope."""

    def check_owner(self, name):
        if not self.scope.sees_owner(name) or (self.scope.owners is None and not owner_exists(name=name)):
            raise Http404("No such owner.")
        return name


class OwnerSettingsView(ConsoleMixin, OwnerScopedMixin, TemplateView):
    """Each of the user's owners: its API keys, and its webhook secret behind a reveal for admins."""

    template_name = "monitoring/owner_settings.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["owners"] = owner_settings_list(owners=self.scope.owners)
        context["key_name_max"] = KEY_NAME_MAX
        return context


class ApiKeyCreateView(OwnerSettingsView):
    """(Admin) Create a key for an owner and show its raw value on this response only, never stored."""

    post_role = "admin"
    http_method_names = ["post"]

    @sensitive_variables("raw")
    def post(self, request, owner):
        self.check_owner(owner)
        name = request.POST.get("name", "").strip()
        system = request.POST.get("system") == "on"
        if system and not self.scope.is_system:
            raise PermissionDenied("Only system users create system keys.")
        if not name or len(name) > KEY_NAME_MAX:
            context = self.get_context_data(form_owner=owner,
                                            form_error=f"A key needs a name of 1 to {KEY_NAME_MAX} characters.")
            return self.render_to_response(context, status=400)
        key, raw = api_key_create(owner=owner, name=name, system=system)
        logger.info("API key %s (%s) of %s created by %s", key.pk, key.name, owner, self.scope.actor)
        response = self.render_to_response(self.get_context_data(
            new_key={"owner": owner, "name": key.name, "raw": raw, "is_system": key.is_system}))
        add_never_cache_headers(response)
        return response


class ApiKeyRevokeView(OwnerScopedMixin, ConsoleView):
    """(Admin) Revoke an active key of an owner in scope: requests with it get 401 from then on."""

    post_role = "admin"
    http_method_names = ["post"]

    def post(self, request, owner, key_id):
        self.check_owner(owner)
        try:
            api_key_revoke(key_id=key_id, owner=owner)
        except NotFound as exc:
            raise Http404(str(exc)) from exc
        logger.info("API key %s of %s revoked by %s", key_id, owner, self.scope.actor)
        messages.success(request, "The key is revoked.")
        return redirect("mondat:owners")


class WebhookSecretRotateView(OwnerScopedMixin, ConsoleView):
    """(Admin) Give an owner a new webhook secret; the old one stops verifying at once."""

    post_role = "admin"
    http_method_names = ["post"]

    def post(self, request, owner):
        self.check_owner(owner)
        try:
            owner_rotate_webhook_secret(owner=owner)
        except NotFound as exc:
            raise Http404(str(exc)) from exc
        logger.info("webhook secret of %s rotated by %s", owner, self.scope.actor)
        messages.success(request, f"The webhook secret of {owner} is rotated; reveal it to update your receivers.")
        return redirect("mondat:owners")


class WebhookSecretView(ConsoleMixin, OwnerScopedMixin, TemplateView):
    """(Admin) An owner's webhook secret: a fragment for htmx's reveal, or a small page; never cached."""

    http_method_names = ["get"]

    def get_template_names(self):
        if self.request.headers.get("HX-Request"):
            return ["monitoring/_webhook_secret.html"]
        return ["monitoring/owner_secret.html"]

    def get(self, request, owner):
        if not self.scope.allows("admin"):
            raise PermissionDenied("Only admins see webhook secrets.")
        self.check_owner(owner)
        try:
            secret = owner_webhook_secret(owner=owner)
        except NotFound as exc:
            raise Http404(str(exc)) from exc
        response = self.render_to_response(self.get_context_data(owner=owner, secret=secret))
        add_never_cache_headers(response)
        return response
