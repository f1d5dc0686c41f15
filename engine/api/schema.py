"""The OpenAPI document's shared pieces: the generator that sees through `by_method`, the components
(the transaction object, the error shape, ...), and helpers the views' `@extend_schema` use.

The schemas are raw OpenAPI 3.0 (the views read bodies by hand, not through serializers) and are
kept exact: tests/api/test_fuzz.py checks every response against them.
"""
from django.urls import URLPattern
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.generators import EndpointEnumerator, SchemaGenerator
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse

from engine.joins import JOIN_MODES, ON_FAILURE
from engine.limits import (
    BULK_START_MAX,
    MOVE_PREVIEW_MAX,
    REASON_MAX,
    SCHEDULE_NAME_PATTERN,
)
from engine.states import (
    CALLBACK_ACTIVE_VALUES,
    TX_MOVABLE_VALUES,
    BulkAction,
    BulkJobStatus,
    ScheduleEventKind,
    ScheduleOverlap,
    ScheduleRunCause,
    TxStatus,
    WaitReason,
)

ANY = {}  # any JSON value
STAMP = {"type": "string", "format": "date-time"}
NULL_STAMP = {**STAMP, "nullable": True}
NULL_STRING = {"type": "string", "nullable": True}
OBJECT = {"type": "object", "additionalProperties": True}


def ref(name):
    return {"$ref": f"#/components/schemas/{name}"}


def _object(properties, required=None):
    found = {"type": "object", "properties": properties}
    required = list(properties) if required is None else required
    if required:  # OpenAPI 3.0 forbids an empty `required`
        found["required"] = required
    return found


NULL_INT = {"type": "integer", "nullable": True}
COUNT = {"type": "integer", "minimum": 0}
# A fan-out (ctx.start_children, util/map): its settings, the counts its join is decided from, its outcome.
FAN_OUT = _object({
    "fan_out": {"type": "integer"}, "step": {"type": "string"}, "visit": {"type": "integer"},
    "pipeline": {"type": "string"}, "join": {"type": "string", "enum": list(JOIN_MODES)}, "first_n": NULL_INT,
    "max_parallel": NULL_INT, "on_failure": {"type": "string", "enum": list(ON_FAILURE)},
    "total": COUNT, "started": COUNT, "running": COUNT, "succeeded": COUNT, "failed": COUNT, "not_started": COUNT,
    "tolerated": {**COUNT, "description": "The failures tolerated, as a count of the total."},
    "tolerated_given": {"description": 'As given: a count, a percentage ("5%"), or null for the default.'},
    "outcome": {**NULL_STRING, "enum": ["success", "failed", "closed", None],
                "description": "Null until the join is decided; closed when the parent ended first."},
    "summary": {"type": "string", "description": "The line the console shows."},
    "created_at": STAMP, "decided_at": NULL_STAMP,
    "links": _object({"children": {"type": "string", "description": "The list of its children."}}),
})

WAITING = {**_object({
    "reason": {"type": "string", "enum": list(WaitReason.values)},
    "switch": NULL_STRING, "scope": NULL_STRING, "callback": NULL_STRING, "child_tx_id": NULL_STRING,
    "wake_at": NULL_STAMP, "timeout_at": NULL_STAMP, "since": NULL_STAMP, "step": NULL_STRING,
    # The path (with its token) a partner reports to, of the callback it awaits and of every open callback:
    # only for a caller that may act for the owner, through the API.
    "callback_url": NULL_STRING,
    "callbacks": {"type": "array", "items": _object({
        "name": {"type": "string"}, "status": {"type": "string", "enum": list(CALLBACK_ACTIVE_VALUES)},
        "timeout_at": NULL_STAMP, "url": NULL_STRING})},
    "url": {**NULL_STRING, "deprecated": True,
            "description": "Deprecated: the former name of `callback_url`."},
    # The progress of the fan-out it waits on (reason `children`).
    "children": {**FAN_OUT, "nullable": True},
}), "nullable": True}

TRANSACTION = _object({
    "tx_id": {"type": "string"}, "owner": {"type": "string"}, "external_id": NULL_STRING,
    "transaction_type": {"type": "string"}, "pipeline_version": NULL_STRING, "node_group": NULL_STRING,
    "status": {"type": "string", "enum": list(TxStatus.values)}, "note": NULL_STRING,
    "waiting": WAITING, "switches": OBJECT, "deadline_at": NULL_STAMP, "cancel_requested": {"type": "boolean"},
    "parent_tx_id": NULL_STRING, "created_at": STAMP, "updated_at": STAMP, "completed_at": NULL_STAMP,
    "links": _object({"self": {"type": "string"}, "console": {"type": "string"}}),
    # Left out of list items unless ?expand=payload.
    "progress": ANY, "input": ANY, "metadata": ANY, "data": ANY,
}, required=["tx_id", "owner", "transaction_type", "status", "waiting", "switches", "created_at", "links"])

SWITCH = _object({"name": {"type": "string"}, "value": ANY, "set_at": NULL_STAMP, "set_by": NULL_STRING,
                  "unread": {"type": "boolean"}}, required=["name", "value", "set_at", "set_by"])
SWITCH_ACTION = {"type": "string", "enum": ["unchanged", "updated", "woken"]}
CALLBACK = _object({"name": {"type": "string"}, "status": {"type": "string"}, "data": ANY, "updated_at": NULL_STAMP})

PIPELINE_VERSION = _object({"version": {"type": "string"}, "created_at": STAMP, "in_use": {"type": "boolean"}})
PIPELINE_BASE = {"name": {"type": "string"}, "description": {"type": "string"}, "node_group": NULL_STRING,
                 "transaction_type": {"type": "boolean"}, "version": NULL_STRING,
                 "steps": {"type": "array", "items": OBJECT}}
NODE = _object({"node_id": {"type": "string"}, "host": {"type": "string"}, "pid": {"type": "integer"},
                "workers": {"type": "integer"}, "started_at": NULL_STAMP, "last_seen_at": NULL_STAMP})
NODE_GROUP = _object({
    "name": {"type": "string"}, "description": {"type": "string"}, "paused": {"type": "boolean"},
    "max_concurrency": {"type": "integer", "nullable": True}, "queued": {"type": "integer"},
    "running": {"type": "integer"}, "sleeping": {"type": "integer"}, "nodes": {"type": "array", "items": NODE},
})

SCHEDULE_FIELDS = {
    "name": {"type": "string"}, "owner": {"type": "string"}, "description": {"type": "string"},
    "transaction_type": {"type": "string"}, "data": OBJECT,
    "cron": {**NULL_STRING, "description": "A cron expression (5 fields, or 6 with seconds first), read in `timezone`."},
    "interval": {**NULL_STRING, "description": "An ISO 8601 duration: PT15M (real time), P1D (wall-clock time)."},
    "timezone": {"type": "string"}, "start_at": NULL_STAMP, "end_at": NULL_STAMP,
    "overlap": {"type": "string", "enum": list(ScheduleOverlap.values)},
    "catchup_window": {"type": "string"}, "jitter": NULL_STRING, "paused": {"type": "boolean"},
    "note": {"type": "string"}, "next_due_at": NULL_STAMP, "buffered_due_at": NULL_STAMP, "last_due_at": NULL_STAMP,
    "created_by": {"type": "string"}, "created_at": STAMP, "updated_at": STAMP,
    "links": _object({"self": {"type": "string"}}),
}
SCHEDULE_ACTION = _object({
    "action": {"type": "string", "enum": ["started", "existing", "skipped", "buffered", "failed"]},
    "due_at": {"type": "string"}, "tx_id": {"type": "string"}, "note": {"type": "string"}}, required=["action", "due_at"])
SCHEDULE_DETAIL = _object({
    **SCHEDULE_FIELDS,
    "next_runs": {"type": "array", "items": _object({"due_at": STAMP, "fires_at": STAMP})},
    "last_runs": {"type": "array", "items": _object({
        "due_at": STAMP, "cause": {"type": "string", "enum": list(ScheduleRunCause.values)}, "started_at": STAMP,
        "actor": {"type": "string"}, "tx_id": NULL_STRING,
        "status": {**NULL_STRING, "enum": [*TxStatus.values, None]}})},
    "events": {"type": "array", "items": _object({
        "at": STAMP, "kind": {"type": "string", "enum": list(ScheduleEventKind.values)}, "due_at": NULL_STAMP,
        "actor": {"type": "string"}, "note": {"type": "string"}, "data": OBJECT})},
})

# Version moves (issue 22): what the dry run says of a step the transactions stand at, and of each of them.
VERDICT = {
    "moves": {"type": "boolean", "description": "Whether the target version has the step."},
    "resumes_at": {**NULL_STRING, "description": "The step it resumes at there (its own), or null."},
    "changes": {"type": "array", "items": {"type": "string"},
                "description": "What differs at that step: type, config, retry, routes."},
    "why": {**NULL_STRING, "description": "Why it stays, when it does."},
}
MOVE_PREVIEW = _object({
    "pipeline": {"type": "string"}, "from_version": {"type": "string"}, "to_version": {"type": "string"},
    "count": {**COUNT, "description": "The sleeping and queued transactions on from_version (at most 100,000)."},
    "more": {"type": "boolean", "description": "Whether there are more than `count`."},
    "moves": COUNT, "stays": COUNT,
    "steps": {"type": "array", "items": _object({"step": {"type": "string"}, "sleeping": COUNT, "queued": COUNT,
                                                 **VERDICT})},
    "transactions": {"type": "array", "description": "The newest `limit` of them.", "items": _object({
        "tx_id": {"type": "string"}, "owner": {"type": "string"},
        "status": {"type": "string", "enum": list(TX_MOVABLE_VALUES)}, "step": {"type": "string"},
        "waiting": {**NULL_STRING, "enum": [*WaitReason.values, None]}, **VERDICT})},
})
BULK_JOB = _object({
    "id": {"type": "integer"}, "action": {"type": "string", "enum": list(BulkAction.values)},
    "status": {"type": "string", "enum": list(BulkJobStatus.values)},
    "total": {**NULL_INT, "description": "The transactions counted when it was asked."},
    "done": COUNT, "skipped": {**COUNT, "description": "Those it did not apply to (moved or ended since, held "
                                                      "by a node, or their step not in the target version)."},
    "created_at": STAMP, "started_at": NULL_STAMP, "finished_at": NULL_STAMP,
    "error": {"type": "string", "description": "Why it failed (status failed), else empty."},
})

OUTCOME_TEXT = ("The outcome the step ended with: a fixed one (success, failed, aborted, timeout, cancelled) or a "
                "name of its own (approved); null while it runs or sleeps, and after internal_error or lost.")


def page_of(item):
    return _object({"results": {"type": "array", "items": item}, "next": NULL_STRING})


COMPONENTS = {
    "Error": _object({"code": {"type": "string"}, "message": {"type": "string"}, "extra": OBJECT}),
    "Transaction": TRANSACTION,
    "TransactionPage": page_of(ref("Transaction")),
    "StepRunPage": page_of(_object({
        "seq": {"type": "integer"}, "step": {"type": "string"}, "type": {"type": "string"},
        "status": {"type": "string"}, "outcome": {**NULL_STRING, "description": OUTCOME_TEXT},
        "attempt": {"type": "integer"}, "retry_count": {"type": "integer"},
        "note": NULL_STRING, "input": ANY, "output": ANY, "error": ANY, "started_at": NULL_STAMP,
        "ended_at": NULL_STAMP, "duration_ms": {"type": "integer", "nullable": True}, "node": NULL_STRING,
        "logs": ANY,
    })),
    "FanOutPage": page_of(FAN_OUT),
    "JournalPage": page_of(_object({"seq": {"type": "integer"}, "at": STAMP, "kind": {"type": "string"},
                                    "actor": {"type": "string"}, "step": NULL_STRING, "data": ANY})),
    "Switch": SWITCH,
    "SwitchList": _object({"switches": {"type": "array", "items": ref("Switch")}}),
    "SwitchResult": _object({"switch": ref("Switch"), "action": SWITCH_ACTION}),
    "GlobalSwitchResult": _object({"switch": ref("Switch"), "action": SWITCH_ACTION, "woken": {"type": "integer"}}),
    "Callback": CALLBACK,
    "CallbackResult": _object({"callback": ref("Callback"),
                               "action": {"type": "string", "enum": ["updated", "woken"]}}),
    "CallbackGet": _object({"callback": ref("Callback")}),
    "Pipeline": _object({**PIPELINE_BASE, "versions": {"type": "integer"}}),
    "PipelineDetail": _object({**PIPELINE_BASE, "versions": {"type": "array", "items": PIPELINE_VERSION}}),
    "PipelineList": _object({"results": {"type": "array", "items": ref("Pipeline")}}),
    "PipelinePublished": _object({"version": {"type": "string"}, "created": {"type": "boolean"}}),
    "NodeGroup": NODE_GROUP,
    "NodeGroupList": _object({"results": {"type": "array", "items": ref("NodeGroup")}}),
    "StepTypeList": _object({"results": {"type": "array", "items": _object(
        {"type": {"type": "string"}, "description": {"type": "string"}, "config_schema": ANY,
         "outcomes": {"type": "array", "items": {"type": "string"}, "nullable": True,
                      "description": "The outcomes it declares; null: it may end with any name."},
         "input_schema": {"description": "JSON Schema of the step's input, checked before each run; null: any "
                                         "input"}})}}),
    "BatchResult": _object({
        "results": {"type": "array", "items": _object({
            "index": {"type": "integer", "minimum": 0, "description": "The item's place in `transactions`."},
            "status": {"type": "integer", "description": "201 created, 200 an identical start replayed, or the "
                                                        "HTTP status of `error` (as a lone start would answer)."},
            "transaction": ref("Transaction"),  # without the payload, as in lists
            "error": ref("Error")}, required=["index", "status"])},
        "created": COUNT, "replayed": COUNT, "failed": COUNT,
    }),
    "Schedule": SCHEDULE_DETAIL,
    "ScheduleList": _object({"results": {"type": "array", "items": _object(SCHEDULE_FIELDS)}}),
    "ScheduleAction": SCHEDULE_ACTION,
    "ScheduleBackfill": _object({"due_times": COUNT, "started": COUNT, "existing": COUNT, "skipped": COUNT,
                                 "buffered": COUNT, "failed": COUNT,
                                 "runs": {"type": "array", "items": SCHEDULE_ACTION}}),
    "VersionMovePreview": MOVE_PREVIEW,
    "VersionMoveJob": BULK_JOB,
    "Health": _object({"status": {"type": "string", "enum": ["ok", "degraded"]}, "database": {"type": "string"},
                       "nodes": {"type": "integer", "nullable": True}}),
}

# Request bodies -----------------------------------------------------------------------------------

REASON = {"type": "string", "maxLength": REASON_MAX}
DEADLINE = {"type": "string", "nullable": True, "description": "An ISO 8601 duration from now, or a timestamp."}


def body(properties, required=()):
    return {"application/json": _object(properties, list(required))}


START_FIELDS = {
    "transaction_type": {"type": "string", "minLength": 1, "maxLength": 100}, "external_id": {"type": "string"},
    "data": OBJECT, "metadata": OBJECT, "webhook": {"type": "string"}, "webhook_progress": {"type": "boolean"},
    "deadline": DEADLINE,
}
START_BODY = body({
    **START_FIELDS, "wait": {"type": "string", "description": "An ISO 8601 duration, capped at MAX_WAIT."},
}, required=["transaction_type"])
BATCH_BODY = body({"transactions": {
    "type": "array", "minItems": 1, "maxItems": BULK_START_MAX,
    "items": {**_object(START_FIELDS, ["transaction_type"]), "description": "The fields of POST /transactions "
                                                                          "but `wait` (refused here)."}},
}, required=["transactions"])
REASON_BODY = body({"reason": REASON})
RETRY_BODY = body({"reason": REASON, "deadline": DEADLINE})
REWIND_BODY = body({
    "to_step": {"type": "string", "minLength": 1, "description": "The step to run again from."},
    "data": {**OBJECT, "description": "The data it starts with (default: as that step last started)."},
    "version": {"type": "string", "minLength": 1,
                "description": 'A version of its pipeline, or "current" for the one in use (default: its own).'},
    "reason": REASON, "deadline": DEADLINE,
    "webhook_again": {"type": "boolean", "description": "Send the finished webhook again (default: only the "
                                                        "first finish sends it)."},
}, required=["to_step"])
VERSION_MOVE_BODY = body({
    "to_version": {"type": "string", "minLength": 1, "description": "Default: the pipeline's version in use."},
    "dry_run": {"type": "boolean", "description": "Default true: only say what would move."},
    "reason": REASON,
    "limit": {"type": "integer", "minimum": 0, "maximum": MOVE_PREVIEW_MAX,
              "description": "The transactions the dry run lists (default 100)."},
})
DEADLINE_BODY = body({"deadline": DEADLINE, "reason": REASON}, required=["deadline"])
SWITCH_BODY = body({"value": ANY, "reason": REASON}, required=["value"])
CALLBACK_BODY = body({"status": {"type": "string", "enum": ["start", "progress", "complete", "error", "cancel"]},
                      "data": OBJECT}, required=["status"])
PIPELINE_BODY = body({"name": {"type": "string"}, "description": {"type": "string"},
                      "node_group": {"type": "string"}, "transaction_type": {"type": "boolean"},
                      "steps": {"type": "array", "items": OBJECT}}, required=["steps"])
NODE_GROUP_BODY = body({"paused": {"type": "boolean"},
                        "max_concurrency": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1,
                                            "nullable": True}})
SCHEDULE_EDITABLE = {
    "description": {"type": "string"}, "transaction_type": {"type": "string", "minLength": 1, "maxLength": 100},
    "data": OBJECT, "cron": NULL_STRING, "interval": NULL_STRING, "timezone": {"type": "string"},
    "start_at": NULL_STRING, "end_at": NULL_STRING,
    "overlap": {"type": "string", "enum": list(ScheduleOverlap.values)},
    "catchup_window": {"type": "string", "description": "An ISO 8601 duration (default PT1H)."},
    "jitter": {"type": "string", "description": "An ISO 8601 duration, at most P1D."},
    "note": REASON,
}
SCHEDULE_CREATE_BODY = body({"name": {"type": "string", "pattern": SCHEDULE_NAME_PATTERN},
                             "paused": {"type": "boolean"}, **SCHEDULE_EDITABLE},
                            required=["name", "transaction_type"])
SCHEDULE_UPDATE_BODY = body(SCHEDULE_EDITABLE)
NOTE_BODY = body({"note": REASON})
BACKFILL_BODY = body({"start": {"type": "string", "format": "date-time"}, "end": {"type": "string", "format": "date-time"},
                      "overlap": {"type": "string", "enum": list(ScheduleOverlap.values)}}, required=["start", "end"])

# Parameters ---------------------------------------------------------------------------------------

WAIT = OpenApiParameter("wait", str, description="Hold the reply until the transaction finishes (ISO 8601 duration).")
LIMIT = OpenApiParameter("limit", int, description="Page size (default 50, at most 500).")
CURSOR = OpenApiParameter("cursor", str, description="The opaque cursor of the previous page's `next`.")
LIST_FILTERS = [
    OpenApiParameter("status", str, description="Comma-separated statuses."),
    *[OpenApiParameter(name, str) for name in ("transaction_type", "external_id", "node_group", "switch")],
    OpenApiParameter("parent_tx_id", str, description="The children of this transaction."),
    OpenApiParameter("fan_out", int, description="The children of this fan-out (its `fan_out` id)."),
    OpenApiParameter("waiting_reason", str, enum=list(WaitReason.values)),
    OpenApiParameter("created_after", str, description="ISO 8601 timestamp."),
    OpenApiParameter("created_before", str, description="ISO 8601 timestamp."),
    OpenApiParameter("expand", str, enum=["payload"]),
    LIMIT, CURSOR,
]

# Responses ----------------------------------------------------------------------------------------

ERROR = OpenApiResponse(response=ref("Error"), description='The error shape {"code", "message", "extra"}.')


def responses(ok, *, status=200, auth=True, system=False, conflict=False, body=False):
    """The responses of an operation: its success, and every error it can answer with."""
    found = {status: OpenApiResponse(response=ref(ok)) if isinstance(ok, str) else ok,
             400: ERROR, 404: ERROR, 405: ERROR}
    if auth:
        found[401] = ERROR
    if system:
        found[403] = ERROR
    if conflict:
        found[409] = ERROR
    if body:
        found.update({413: ERROR, 415: ERROR})
    return found


class ApiKeyScheme(OpenApiAuthenticationExtension):
    """`Authorization: Bearer <api key>` (engine.api.authentication)."""

    target_class = "engine.api.authentication.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "An API key: `Authorization: Bearer <key>`."}


# The generator ------------------------------------------------------------------------------------


class DatpEndpointEnumerator(EndpointEnumerator):
    """Also list the views behind a `by_method` route (engine.api.methods), one per method; list only
    /api/v1/, so neither the document's own views nor a host project's API join it."""

    def get_api_endpoints(self, patterns=None, prefix=""):
        return [endpoint for endpoint in super().get_api_endpoints(patterns, prefix)
                if endpoint[0].startswith("/api/v1/")]

    def _get_api_endpoints(self, patterns, prefix):
        if patterns is None:
            patterns = self.patterns
        found = []
        for pattern in patterns:
            handlers = getattr(getattr(pattern, "callback", None), "handlers", None)
            if isinstance(pattern, URLPattern) and handlers:
                path_regex = prefix + str(pattern.pattern)
                path = self.get_path_from_regex(path_regex)
                found.extend((path, path_regex, method, view) for method, view in handlers.items()
                             if method != "HEAD")
            else:
                found.extend(super()._get_api_endpoints([pattern], prefix))
        return found


class DatpSchemaGenerator(SchemaGenerator):
    endpoint_inspector_cls = DatpEndpointEnumerator

    def get_schema(self, request=None, public=False):
        schema = super().get_schema(request=request, public=public)
        schema.setdefault("components", {}).setdefault("schemas", {}).update(COMPONENTS)
        return schema
