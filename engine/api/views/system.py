"""The installation: health (no key) and the step types it offers."""
from datetime import timedelta

from django.db import DatabaseError
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from engine.api.base import ApiView

from engine import clock
from engine.api import schema
from engine.selectors import node_count_seen_since, step_type_list

NODE_SEEN_SECONDS = 60


class HealthApi(ApiView):
    """GET /health: 200 when the database answers, 503 `degraded` when it does not."""

    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(operation_id="health", auth=[], responses={
        200: schema.OpenApiResponse(response=schema.ref("Health")),
        503: schema.OpenApiResponse(response=schema.ref("Health"), description="The database does not answer.")})
    def get(self, request):
        try:
            nodes = node_count_seen_since(since=clock.now() - timedelta(seconds=NODE_SEEN_SECONDS))
        except DatabaseError:
            return Response({"status": "degraded", "database": "unavailable", "nodes": None}, status=503)
        return Response({"status": "ok", "database": "ok", "nodes": nodes})


class StepTypeListApi(ApiView):
    """GET /step-types."""

    @extend_schema(operation_id="step_type_list", responses=schema.responses("StepTypeList"))
    def get(self, request):
        return Response({"results": step_type_list()})
