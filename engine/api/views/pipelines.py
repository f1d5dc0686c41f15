"""Pipelines belong to the installation: anyone may read them, only system credentials publish."""
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from engine.api.base import ApiView

from engine.api import schema
from engine.api.inputs import json_body
from engine.api.permissions import IsSystem
from engine.errors import InvalidRequest
from engine.selectors import pipeline_detail, pipeline_list
from engine.services import pipelines


class PipelineListApi(ApiView):
    """GET /pipelines."""

    @extend_schema(operation_id="pipeline_list", responses=schema.responses("PipelineList"))
    def get(self, request):
        return Response({"results": pipeline_list()})


class PipelineGetApi(ApiView):
    """GET /pipelines/{name}, with every version."""

    @extend_schema(operation_id="pipeline_get", responses=schema.responses("PipelineDetail"))
    def get(self, request, name):
        return Response(pipeline_detail(name=name))


class PipelinePublishApi(ApiView):
    """PUT /pipelines/{name} with a definition → `{"version", "created"}`; the node group must exist."""

    permission_classes = [IsSystem]

    @extend_schema(operation_id="pipeline_publish", request=schema.PIPELINE_BODY,
                   responses=schema.responses("PipelinePublished", system=True, body=True))
    def put(self, request, name):
        definition = dict(json_body(request))
        if definition.setdefault("name", name) != name:
            raise InvalidRequest("name: must match the URL.", fields={"name": ["Must match the name in the URL."]})
        version, created = pipelines.pipeline_publish(definition=definition, create_node_group=False)
        return Response({"version": version.version, "created": created})


class PipelineUseVersionApi(ApiView):
    """POST /pipelines/{name}/versions/{version}/use: make that version the one in use (a rollback)."""

    permission_classes = [IsSystem]

    @extend_schema(operation_id="pipeline_use_version", request=schema.REASON_BODY,
                   responses=schema.responses("PipelineDetail", system=True, body=True))
    def post(self, request, name, version):
        json_body(request)
        pipelines.pipeline_use_version(name=name, version=version)
        return Response(pipeline_detail(name=name))
