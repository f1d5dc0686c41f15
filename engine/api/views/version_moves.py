"""Version moves of a pipeline (system credentials): the dry run, the move (a bulk job) and reading that job.

A move reaches every owner's transactions: a pipeline and its versions belong to the installation."""
from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response

from engine.api import schema
from engine.api.base import ApiView
from engine.api.inputs import Fields, json_body
from engine.api.permissions import IsSystem
from engine.errors import NotFound
from engine.limits import MOVE_PREVIEW_MAX, REASON_MAX
from engine.selectors import pipeline_detail
from engine.selectors.bulk import bulk_job_as_dict, bulk_job_get
from engine.services.bulk import version_move_start
from engine.services.version_moves import version_move_preview
from engine.states import BulkAction

MOVE_FIELDS = ("to_version", "dry_run", "reason", "limit")
PREVIEW_ROWS_DEFAULT = 100
# The largest id a job may have (a bigger number in the URL is no job, not a database error).
JOB_ID_MAX = 2**63 - 1


def _move_job(*, name, job_id):
    """The move job `job_id` of pipeline `name`; NotFound for any other job, or an id that is no number."""
    not_found = NotFound("No such version move of this pipeline.")
    if not job_id.isascii() or not job_id.isdigit() or int(job_id) > JOB_ID_MAX:
        raise not_found
    try:
        job = bulk_job_get(job_id=int(job_id), owners=None)
    except NotFound:
        raise not_found from None
    if job.action != BulkAction.MOVE_VERSION or (job.filters or {}).get("transaction_type") != name:
        raise not_found
    return job


class PipelineVersionMoveApi(ApiView):
    """POST /pipelines/{name}/versions/{version}/move: move the sleeping and queued transactions on `version` to
    `to_version` (default: the version in use). A dry run (the default) answers 200 with what would move; a
    real one starts the move, a bulk job, and answers 202 with it and its Location."""

    permission_classes = (IsSystem,)

    @extend_schema(operation_id="pipeline_version_move", request=schema.VERSION_MOVE_BODY, responses={
        **schema.responses("VersionMovePreview", system=True, body=True),
        202: schema.OpenApiResponse(response=schema.ref("VersionMoveJob"),
                                    description="The move started (dry_run false): the job, at Location.")})
    def post(self, request, name, version):
        fields = Fields(json_body(request), allowed=MOVE_FIELDS)
        to_version = fields.string("to_version")
        dry_run = fields.boolean("dry_run", default=True)
        reason = fields.string("reason", max_length=REASON_MAX, default="")
        limit = fields.integer("limit", minimum=0, maximum=MOVE_PREVIEW_MAX, default=PREVIEW_ROWS_DEFAULT)
        fields.done()
        if to_version is None:
            to_version = pipeline_detail(name=name)["version"]
        if dry_run:
            return Response(version_move_preview(pipeline=name, from_version=version, to_version=to_version,
                                                 limit=limit))
        job = version_move_start(pipeline=name, from_version=version, to_version=to_version,
                                 actor=request.user.actor, reason=reason)
        location = reverse("api:pipeline-version-move-get", kwargs={"name": name, "job_id": job.pk})
        return Response(bulk_job_as_dict(job), status=status.HTTP_202_ACCEPTED, headers={"Location": location})


class PipelineVersionMoveGetApi(ApiView):
    """GET /pipelines/{name}/moves/{job_id}: a version move of the pipeline, how far it got."""

    permission_classes = (IsSystem,)

    @extend_schema(operation_id="pipeline_version_move_get", responses=schema.responses("VersionMoveJob", system=True))
    def get(self, request, name, job_id):
        return Response(bulk_job_as_dict(_move_job(name=name, job_id=job_id)))
