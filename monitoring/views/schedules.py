"""MONDAT's Schedules pages: the schedules of the user's owners, one schedule (its fields, next and last runs,
journal), and for operators pause, resume and run now, each through the service the REST API calls."""
import json

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect
from django.views.generic import TemplateView

from engine import clock
from engine.errors import DatpError, ScheduleNotFound
from engine.selectors.schedules import (
    schedule_as_dict,
    schedule_console_list,
    schedule_get,
)
from engine.services import schedules
from monitoring.views.action_helpers import note_of
from monitoring.views.base import ConsoleMixin, ConsoleView


class ScheduleLookupMixin:
    def get_schedule(self, name):
        """The schedule `name` if its owner is in scope; another owner's is a 404 like a missing one."""
        try:
            return schedule_get(name=name, owners=self.scope.owners)
        except ScheduleNotFound as exc:
            raise Http404(str(exc)) from exc


class ScheduleListView(ConsoleMixin, TemplateView):
    template_name = "monitoring/schedule_list.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(schedules=schedule_console_list(owners=self.scope.owners), now=clock.now())
        return context


class ScheduleDetailView(ScheduleLookupMixin, ConsoleMixin, TemplateView):
    """One schedule: its fields, its next runs, its last runs with their transactions, its journal."""

    template_name = "monitoring/schedule_detail.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        found = schedule_as_dict(self.get_schedule(kwargs["name"]), detail=True)
        for event in found["events"]:
            event["data_text"] = json.dumps(event["data"], ensure_ascii=False, sort_keys=True) if event["data"] else ""
        context.update(schedule=found, data_text=json.dumps(found["data"], indent=2, ensure_ascii=False,
                                                             sort_keys=True), now=clock.now())
        return context


class ScheduleActionView(ScheduleLookupMixin, ConsoleView):
    """POST only (operator and above): `act(schedule, note)` calls one service and returns (level, message);
    a typed engine error becomes the message, never a 500."""

    http_method_names = ["post"]

    def post(self, request, name):
        schedule = self.get_schedule(name)
        try:
            level, said = self.act(schedule, note_of(request))
        except DatpError as exc:
            level, said = messages.ERROR, exc.message
        messages.add_message(request, level, said)
        return redirect("mondat:schedule", name=schedule.name)

    def act(self, schedule, note):
        raise NotImplementedError

    def service_kwargs(self, schedule, note):
        return {"name": schedule.name, "owner": schedule.owner_id, "actor": self.scope.actor, "note": note}


class SchedulePauseView(ScheduleActionView):
    def act(self, schedule, note):
        schedules.schedule_pause(**self.service_kwargs(schedule, note))
        if schedule.paused:
            return messages.INFO, f"{schedule.name} was already paused: nothing changed."
        return messages.SUCCESS, f"Paused {schedule.name}: it starts nothing until it is resumed."


class ScheduleResumeView(ScheduleActionView):
    def act(self, schedule, note):
        schedules.schedule_resume(**self.service_kwargs(schedule, note))
        if not schedule.paused:
            return messages.INFO, f"{schedule.name} was not paused: nothing changed."
        return messages.SUCCESS, f"Resumed {schedule.name}: its next run is its first due time from now."


class ScheduleTriggerView(ScheduleActionView):
    """Run now, under the schedule's overlap policy: started, or skipped, buffered or failed with the why."""

    def act(self, schedule, note):
        answer = schedules.schedule_trigger(**self.service_kwargs(schedule, note))
        if answer["action"] == "started":
            return messages.SUCCESS, f"Started {answer['tx_id']}."
        if answer["action"] == "existing":  # a run due at this very millisecond
            return messages.INFO, f"A run due at {answer['due_at']} exists already: nothing more started."
        level = messages.ERROR if answer["action"] == "failed" else messages.WARNING
        return level, answer["note"]
