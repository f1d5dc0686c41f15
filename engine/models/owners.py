"""Owners (tenants), their members, and their API keys (stored as SHA-256 only)."""
from django.conf import settings
from django.db import models


class Owner(models.Model):
    name = models.CharField(primary_key=True, max_length=64)
    description = models.TextField(blank=True, default="")
    webhook_secret = models.CharField(max_length=64)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="datp_owners")
    created_at = models.DateTimeField()

    def __str__(self):
        return self.name


class ApiKey(models.Model):
    owner = models.ForeignKey(Owner, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    key_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=12)
    is_system = models.BooleanField(default=False)
    created_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API key"

    def __str__(self):
        return f"{self.owner_id}:{self.name}"

    @property
    def is_active(self):
        return self.revoked_at is None
