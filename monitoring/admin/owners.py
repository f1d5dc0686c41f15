"""Owners with their members, and API keys: created through the engine's service, shown once, revoked."""
from django import forms
from django.contrib import admin, messages

from engine.errors import NotFound
from engine.models import ApiKey, Owner
from engine.services.owners import OWNER_RE, api_key_create, api_key_revoke, owner_ensure
from monitoring.admin.base import SystemOnlyAdmin


class OwnerForm(forms.ModelForm):
    class Meta:
        model = Owner
        fields = ("name", "description", "members")

    def clean_name(self):
        name = self.cleaned_data["name"]
        if not OWNER_RE.match(name):
            raise forms.ValidationError("An owner name is 1 to 64 letters, digits or _.- .")
        return name


@admin.register(Owner)
class OwnerAdmin(SystemOnlyAdmin):
    form = OwnerForm
    list_display = ("name", "description", "created_at")
    search_fields = ("name",)
    filter_horizontal = ("members",)
    ordering = ("name",)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("name", "description", "members")
        return ("name", "description", "members", "created_at")

    def get_readonly_fields(self, request, obj=None):
        # The name is the key of every row of the owner; the webhook secret is never shown here.
        return () if obj is None else ("name", "created_at")

    def save_model(self, request, obj, form, change):
        if change:
            obj.save(update_fields=["description"])
            return
        created = owner_ensure(name=obj.name, description=obj.description)
        obj.webhook_secret = created.webhook_secret
        obj.created_at = created.created_at
        obj._state.adding = False
        obj._state.db = created._state.db


class ApiKeyCreateForm(forms.ModelForm):
    class Meta:
        model = ApiKey
        fields = ("owner", "name", "is_system")
        labels = {"is_system": "System key (may act for every owner)"}


@admin.register(ApiKey)
class ApiKeyAdmin(SystemOnlyAdmin):
    list_display = ("name", "owner", "prefix", "is_system", "created_at", "last_used_at", "revoked_at")
    list_filter = ("is_system", ("revoked_at", admin.EmptyFieldListFilter), "owner")
    list_select_related = ("owner",)
    search_fields = ("name", "=prefix", "=owner__name")
    ordering = ("-created_at",)
    actions = ("revoke",)
    readonly_fields = ("owner", "name", "prefix", "key_hash", "is_system", "created_at", "last_used_at",
                       "revoked_at")

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = ApiKeyCreateForm
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request, obj=None):
        return ApiKeyCreateForm.Meta.fields if obj is None else self.readonly_fields

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else self.readonly_fields

    def has_change_permission(self, request, obj=None):
        # Keys are immutable; the list still offers the revoke action to whoever may view it.
        return False

    def save_model(self, request, obj, form, change):
        key, raw = api_key_create(owner=obj.owner_id, name=obj.name, system=obj.is_system)
        for field in ("id", "key_hash", "prefix", "created_at"):
            setattr(obj, field, getattr(key, field))
        obj._state.adding = False
        obj._state.db = key._state.db
        messages.warning(request, f"The new API key is {raw} — copy it now: it is shown only this once.")

    @admin.action(description="Revoke the selected API keys")
    def revoke(self, request, queryset):
        revoked = 0
        for key_id in queryset.filter(revoked_at__isnull=True).values_list("pk", flat=True):
            try:
                api_key_revoke(key_id=key_id)
            except NotFound:
                continue
            revoked += 1
        self.message_user(request, f"{revoked} API key(s) revoked.", messages.SUCCESS)
