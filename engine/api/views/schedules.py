"""Schedules of the caller's owner: create, list, read, change, delete, pause, resume, trigger and backfill."""
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response

from engine.api import schema
from engine.api.base import ApiView
from engine.api.inputs import Fields, json_body
from engine.errors import InvalidRequest
from engine.limits import REASON_MAX
from engine.selectors.schedules import schedule_as_dict, schedule_get, schedule_list
from engine.services import schedules

CREATE_FIELDS = ("name", "paused", "note", *schedules.EDITABLE)
UPDATE_FIELDS = ("note", *schedules.EDITABLE)


def _fields(request, allowed):
    """The body, refusing a field the operation does not know (a misspelt policy must not pass unnoticed)."""
    body = json_body(request)
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise InvalidRequest(f"{unknown[0]}: not a field of a schedule (the fields: {', '.join(allowed)}).",
                             fields={name: ["Unknown field."] for name in unknown})
    return body


def _detail(request, name):
    return schedule_as_dict(schedule_get(name=name, owners=request.user.owner), detail=True)


class ScheduleListApi(ApiView):
    """GET /schedules: the owner's schedules, by name."""

    @extend_schema(operation_id="schedule_list", responses=schema.responses("ScheduleList"))
    def get(self, request):
        return Response({"results": schedule_list(owners=request.user.owner)})


class ScheduleCreateApi(ApiView):
    """POST /schedules → 201 with the schedule, its next runs and its journal; 409 when the name is taken."""

    @extend_schema(operation_id="schedule_create", request=schema.SCHEDULE_CREATE_BODY,
                   responses=schema.responses("Schedule", status=201, conflict=True, body=True))
    def post(self, request):
        body = _fields(request, CREATE_FIELDS)
        fields = Fields(body)
        name = fields.string("name", required=True, max_length=64)
        transaction_type = fields.string("transaction_type", required=True, max_length=100)
        paused = fields.boolean("paused")
        note = fields.string("note", max_length=REASON_MAX, default="")
        fields.done()
        options = {key: body[key] for key in schedules.EDITABLE if key in body and key != "transaction_type"}
        schedules.schedule_create(owner=request.user.owner, name=name, actor=request.user.actor,
                                  transaction_type=transaction_type, paused=paused, note=note, **options)
        found = _detail(request, name)
        return Response(found, status=status.HTTP_201_CREATED, headers={"Location": found["links"]["self"]})


class ScheduleGetApi(ApiView):
    """GET /schedules/{name}: the schedule, its next runs, its last runs with their statuses, its journal."""

    @extend_schema(operation_id="schedule_get", responses=schema.responses("Schedule"))
    def get(self, request, name):
        return Response(_detail(request, name))


class ScheduleUpdateApi(ApiView):
    """PATCH /schedules/{name} with the fields to change (and a `note`); its next due time is planned again."""

    @extend_schema(operation_id="schedule_update", request=schema.SCHEDULE_UPDATE_BODY,
                   responses=schema.responses("Schedule", body=True))
    def patch(self, request, name):
        body = _fields(request, UPDATE_FIELDS)
        fields = Fields(body)
        note = fields.string("note", max_length=REASON_MAX, default="")
        fields.done()
        changes = {key: body[key] for key in schedules.EDITABLE if key in body}
        schedules.schedule_update(name=name, owner=request.user.owner, actor=request.user.actor, note=note,
                                  **changes)
        return Response(_detail(request, name))


class ScheduleDeleteApi(ApiView):
    """DELETE /schedules/{name} → 204; the transactions it started stay."""

    @extend_schema(operation_id="schedule_delete", responses=schema.responses(
        schema.OpenApiResponse(description="Deleted."), status=204))
    def delete(self, request, name):
        schedules.schedule_delete(name=name, owner=request.user.owner, actor=request.user.actor)
        return Response(status=status.HTTP_204_NO_CONTENT)


def _note(request):
    fields = Fields(_fields(request, ("note",)))
    note = fields.string("note", max_length=REASON_MAX, default="")
    fields.done()
    return note


class SchedulePauseApi(ApiView):
    """POST /schedules/{name}/pause with a `note`: nothing starts until it is resumed."""

    @extend_schema(operation_id="schedule_pause", request=schema.NOTE_BODY,
                   responses=schema.responses("Schedule", body=True))
    def post(self, request, name):
        schedules.schedule_pause(name=name, owner=request.user.owner, actor=request.user.actor, note=_note(request))
        return Response(_detail(request, name))


class ScheduleResumeApi(ApiView):
    """POST /schedules/{name}/resume with a `note`: the next run is the first due time from now."""

    @extend_schema(operation_id="schedule_resume", request=schema.NOTE_BODY,
                   responses=schema.responses("Schedule", body=True))
    def post(self, request, name):
        schedules.schedule_resume(name=name, owner=request.user.owner, actor=request.user.actor, note=_note(request))
        return Response(_detail(request, name))


class ScheduleTriggerApi(ApiView):
    """POST /schedules/{name}/trigger: run it now, under its overlap policy → what happened."""

    @extend_schema(operation_id="schedule_trigger", request=schema.NOTE_BODY,
                   responses=schema.responses("ScheduleAction", body=True))
    def post(self, request, name):
        return Response(schedules.schedule_trigger(name=name, owner=request.user.owner, actor=request.user.actor,
                                                   note=_note(request)))


class ScheduleBackfillApi(ApiView):
    """POST /schedules/{name}/backfill with `start`, `end` (and an `overlap`, default allow): a run for each due
    time of that past range that has none yet."""

    @extend_schema(operation_id="schedule_backfill", request=schema.BACKFILL_BODY,
                   responses=schema.responses("ScheduleBackfill", body=True))
    def post(self, request, name):
        body = _fields(request, ("start", "end", "overlap"))
        return Response(schedules.schedule_backfill(
            name=name, owner=request.user.owner, actor=request.user.actor, start=body.get("start"),
            end=body.get("end"), overlap=body.get("overlap", "allow")))
