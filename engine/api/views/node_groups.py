"""Node groups belong to the installation; the counts they report are the caller's owner's."""
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from engine.api.base import ApiView

from engine.api import schema
from engine.api.inputs import MISSING, json_body
from engine.api.permissions import IsSystem
from engine.errors import InvalidRequest
from engine.selectors import node_group_detail, node_group_list
from engine.services import pipelines


class NodeGroupListApi(ApiView):
    """GET /node-groups."""

    @extend_schema(operation_id="node_group_list", responses=schema.responses("NodeGroupList"))
    def get(self, request):
        return Response({"results": node_group_list(owner=request.user.owner)})


def _changes(body):
    """`paused` (bool) and `max_concurrency` (a positive integer, or null for no limit) from the body."""
    errors, changes = {}, {}
    paused = body.get("paused", MISSING)
    if paused is not MISSING:
        if isinstance(paused, bool):
            changes["paused"] = paused
        else:
            errors["paused"] = ["Must be true or false."]
    limit = body.get("max_concurrency", MISSING)
    if limit is not MISSING:
        if limit is None or (isinstance(limit, int) and not isinstance(limit, bool) and 1 <= limit <= 2**31 - 1):
            changes["max_concurrency"] = limit
        else:
            errors["max_concurrency"] = ["Must be a positive integer, or null for no limit."]
    for extra in sorted(set(body) - {"paused", "max_concurrency"}):
        errors[extra] = ["Unknown field."]
    if not errors and not changes:
        errors["non_field_errors"] = ["Give paused or max_concurrency."]
    if errors:
        raise InvalidRequest("The request has invalid fields.", fields=errors)
    return changes


class NodeGroupUpdateApi(ApiView):
    """PATCH /node-groups/{name} with `paused` and/or `max_concurrency` (system credentials)."""

    permission_classes = [IsSystem]

    @extend_schema(operation_id="node_group_update", request=schema.NODE_GROUP_BODY,
                   responses=schema.responses("NodeGroup", system=True, body=True))
    def patch(self, request, name):
        changes = _changes(json_body(request))
        pipelines.node_group_update(name=name, **changes)
        return Response(node_group_detail(name=name, owner=request.user.owner))


class NodeGroupGetApi(ApiView):
    """GET /node-groups/{name}: one group as the list shows it."""

    @extend_schema(operation_id="node_group_get", responses=schema.responses("NodeGroup"))
    def get(self, request, name):
        return Response(node_group_detail(name=name, owner=request.user.owner))
