"""What every DATP admin page shares: system users only, read-only records, pretty JSON, actor names."""
import json

from django.contrib import admin, messages
from django.db import models
from django.utils.html import format_html

from engine.access import user_role
from engine.errors import DatpError

# Admin actions call a service once per selected row; bigger sets belong to MONDAT's bulk actions.
ACTION_LIMIT = 500
ADMIN_REASON = "admin action"


def is_system(request):
    user = request.user
    return user.is_active and user.is_staff and user_role(user) == "system"


def admin_actor(request):
    return f"user:{request.user.get_username()}"


def apply_each(model_admin, request, keys, act, noun, verb):
    """Call `act(key)` for each of `keys` (a service call as the user); tell the user how many were done and
    which were refused, with the engine's reasons."""
    done, refused = 0, []
    for key in keys:
        try:
            act(key)
        except DatpError as exc:
            refused.append(f"{key}: {exc.message}")
            continue
        done += 1
    model_admin.message_user(request, f"{done} {noun}(s) {verb}.", messages.SUCCESS)
    if refused:
        model_admin.message_user(request, f"{len(refused)} refused: " + "; ".join(refused[:10]), messages.WARNING)


def json_block(value):
    """A JSON value pretty-printed in a <pre>, escaped."""
    if value is None:
        return "-"
    return format_html('<pre class="datp-json">{}</pre>', json.dumps(value, indent=2, ensure_ascii=False,
                                                                     sort_keys=False, default=str))


def _json_display(name, label):
    def show(obj):
        return json_block(getattr(obj, name))

    show.short_description = label
    return show


class SystemOnlyAdmin(admin.ModelAdmin):
    """Visible and usable by system users (staff superusers or members of mondat-system) only."""

    show_full_result_count = False
    list_per_page = 50

    def has_module_permission(self, request):
        return is_system(request)

    def has_view_permission(self, request, obj=None):
        return is_system(request)

    def has_change_permission(self, request, obj=None):
        return is_system(request)

    def has_add_permission(self, request):
        return is_system(request)

    def has_delete_permission(self, request, obj=None):
        return is_system(request)


class ReadOnlyAdmin(SystemOnlyAdmin):
    """An engine record: viewed here, changed only through the engine's services.

    Every field is shown read-only, JSON fields as pretty-printed JSON (`<field>_json`).
    """

    def __init__(self, model, admin_site):
        super().__init__(model, admin_site)
        for field in model._meta.concrete_fields:
            if isinstance(field, models.JSONField):
                setattr(self, f"{field.name}_json", _json_display(field.name, field.verbose_name))

    def get_fields(self, request, obj=None):
        if self.fields:
            return self.fields
        return [f"{field.name}_json" if isinstance(field, models.JSONField) else field.name
                for field in self.model._meta.concrete_fields]

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj)

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
