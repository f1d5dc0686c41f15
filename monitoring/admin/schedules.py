"""Schedules, created, changed, paused, resumed, run and deleted through the engine's services (so every change is
checked, planned again and journaled, as from the API), and their runs and journal, read-only."""
from django import forms
from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from engine.errors import DatpError
from engine.limits import REASON_MAX
from engine.models import Schedule, ScheduleEvent, ScheduleRun
from engine.services import schedules
from monitoring.admin.base import (
    ADMIN_REASON,
    ReadOnlyAdmin,
    SystemOnlyAdmin,
    admin_actor,
    apply_each,
)

EDITED = ("description", "transaction_type", "data", "cron", "interval", "timezone", "start_at", "end_at", "overlap",
          "catchup_window", "jitter", "paused")
# Kept by the engine: what it plans from the calendar, and who made the schedule when.
PLANNED = ("next_due_at", "look_at", "buffered_due_at", "last_due_at", "created_by", "created_at", "updated_at")


class ScheduleForm(forms.ModelForm):
    """A schedule's fields. Once the form is valid the service writes them, in `_post_clean`, so that the engine's
    refusal shows on the field it names and nothing is written."""

    journal_note = forms.CharField(required=False, max_length=REASON_MAX, label="Note",
                                   help_text="Why: the journal entry's note; when this pauses or resumes the "
                                             "schedule, its note too.")
    actor = "system"  # the admin's get_form sets the user

    class Meta:
        model = Schedule
        fields = ("name", "owner", *EDITED)

    def _post_clean(self):
        super()._post_clean()
        if self.errors:
            return
        try:
            self.written = self._write()
        except DatpError as exc:
            fields = exc.extra.get("fields") if isinstance(exc.extra, dict) else None
            for name, problems in (fields or {None: [exc.message]}).items():
                self.add_error(name if name in self.fields else None, problems)

    def _write(self):
        data, note = self.cleaned_data, self.cleaned_data.get("journal_note", "")
        if self.instance.pk is None:
            return schedules.schedule_create(owner=data["owner"].pk, name=data["name"], actor=self.actor, note=note,
                                             **{name: data[name] for name in EDITED})
        name, owner, written = self.instance.name, self.instance.owner_id, None
        changes = {key: data[key] for key in schedules.EDITABLE if key in self.changed_data}
        if changes:
            written = schedules.schedule_update(name=name, owner=owner, actor=self.actor, note=note, **changes)
        if "paused" in self.changed_data:
            act = schedules.schedule_pause if data["paused"] else schedules.schedule_resume
            written = act(name=name, owner=owner, actor=self.actor, note=note)
        return written


@admin.register(Schedule)
class ScheduleAdmin(SystemOnlyAdmin):
    form = ScheduleForm
    list_display = ("name", "owner", "transaction_type", "cron", "interval", "timezone", "paused", "next_due_at",
                    "last_due_at")
    list_filter = ("paused", "overlap", "owner")
    list_select_related = ("owner",)
    search_fields = ("name",)
    ordering = ("name",)
    actions = ("pause", "resume", "trigger")

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("name", "owner", *EDITED, "journal_note")
        return ("name", "owner", *EDITED, "note", "journal_note", *PLANNED, "records")

    def get_readonly_fields(self, request, obj=None):
        # The name is in its runs' external ids and the owner scopes who sees it: neither changes.
        return () if obj is None else ("name", "owner", "note", *PLANNED, "records")

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        form.actor = admin_actor(request)
        return form

    def save_model(self, request, obj, form, change):
        written = getattr(form, "written", None)
        if written is None:  # nothing changed
            return
        for field in Schedule._meta.concrete_fields:
            setattr(obj, field.attname, getattr(written, field.attname))
        obj._state.adding = False
        obj._state.db = written._state.db

    def delete_model(self, request, obj):
        schedules.schedule_delete(name=obj.name, actor=admin_actor(request))

    def delete_queryset(self, request, queryset):
        for name in queryset.values_list("name", flat=True):
            schedules.schedule_delete(name=name, actor=admin_actor(request))

    def get_deleted_objects(self, objs, request):
        # Its runs and journal go with the schedule (the service deletes them): they need no permission of their own.
        deleted, counts, _, protected = super().get_deleted_objects(objs, request)
        return deleted, counts, set(), protected

    @admin.display(description="records")
    def records(self, obj):
        return format_html('<a href="{}?schedule__exact={}">runs</a> · <a href="{}?schedule__exact={}">'
                           'journal</a> · <a href="{}">MONDAT</a>', reverse("admin:engine_schedulerun_changelist"),
                           obj.pk, reverse("admin:engine_scheduleevent_changelist"), obj.pk,
                           reverse("mondat:schedule", args=[obj.name]))

    def _each(self, request, queryset, act, verb):
        """Call `act(name)` for each selected schedule; report done and refused counts."""
        apply_each(self, request, queryset.values_list("name", flat=True),
                   lambda name: act(name=name, actor=admin_actor(request), note=ADMIN_REASON), "schedule", verb)

    @admin.action(description="Pause the selected schedules")
    def pause(self, request, queryset):
        self._each(request, queryset, schedules.schedule_pause, "paused")

    @admin.action(description="Resume the selected schedules")
    def resume(self, request, queryset):
        self._each(request, queryset, schedules.schedule_resume, "resumed")

    @admin.action(description="Run the selected schedules now (under their overlap policies)")
    def trigger(self, request, queryset):
        self._each(request, queryset, schedules.schedule_trigger, "triggered")


@admin.register(ScheduleRun)
class ScheduleRunAdmin(ReadOnlyAdmin):
    list_display = ("schedule", "due_at", "cause", "tx_id", "started_at", "actor", "open")
    list_filter = ("cause", "open")
    list_select_related = ("schedule",)
    raw_id_fields = ("schedule", "tx")
    ordering = ("-due_at", "-id")


@admin.register(ScheduleEvent)
class ScheduleEventAdmin(ReadOnlyAdmin):
    list_display = ("schedule", "at", "kind", "due_at", "actor", "note")
    list_filter = ("kind",)
    list_select_related = ("schedule",)
    raw_id_fields = ("schedule",)
    ordering = ("-at", "-id")
