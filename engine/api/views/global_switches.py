"""An owner's global switches: list and set (setting one wakes every transaction waiting on it)."""
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from engine.api.base import ApiView

from engine.api import schema
from engine.api.inputs import Fields, json_body
from engine.limits import REASON_MAX
from engine.selectors import global_switch_list
from engine.services import switches


class GlobalSwitchListApi(ApiView):
    """GET /switches."""

    @extend_schema(operation_id="global_switch_list", responses=schema.responses("SwitchList"))
    def get(self, request):
        return Response({"switches": global_switch_list(owner=request.user.owner)})


class GlobalSwitchSetApi(ApiView):
    """PUT /switches/{name} with `{"value", "reason"}` → `{"switch", "action", "woken"}`."""

    @extend_schema(operation_id="global_switch_set", request=schema.SWITCH_BODY,
                   responses=schema.responses("GlobalSwitchResult", body=True))
    def put(self, request, name):
        fields = Fields(json_body(request))
        value = fields.raw("value", required=True)
        reason = fields.string("reason", max_length=REASON_MAX, default="")
        fields.done()
        return Response(switches.global_switch_set(owner=request.user.owner, name=name, value=value,
                                                   actor=request.user.actor, reason=reason))
