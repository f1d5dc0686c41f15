"""Reads behind MONDAT's Owner settings page: owners with their API keys, and an owner's webhook secret
(read on its own, so pages that do not show it never load it)."""
from django.db.models import Prefetch

from engine.errors import NotFound
from engine.models import ApiKey, Owner


def owner_settings_list(*, owners):
    """List the owners `owners` (None: every owner), by name, each with `api_keys` newest first (two queries);
    their webhook secrets are not read."""
    queryset = Owner.objects.defer("webhook_secret").prefetch_related(
        Prefetch("api_keys", queryset=ApiKey.objects.defer("key_hash").order_by("-created_at", "-id")))
    if owners is not None:
        queryset = queryset.filter(name__in=owners)
    return list(queryset.order_by("name"))


def owner_webhook_secret(*, owner):
    """Return the webhook secret of `owner`; NotFound if there is no such owner."""
    secret = Owner.objects.filter(pk=owner).values_list("webhook_secret", flat=True).first()
    if secret is None:
        raise NotFound("No such owner.")
    return secret
