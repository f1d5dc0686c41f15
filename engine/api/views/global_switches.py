"""An owner's global switches: list and set (setting one wakes every transaction waiting on it)."""
from rest_framework.response import Response
from rest_framework.views import APIView

from engine.api.inputs import Fields, json_body
from engine.selectors import global_switch_list
from engine.services import switches

REASON_MAX = 2000


class GlobalSwitchListApi(APIView):
    """GET /switches."""

    def get(self, request):
        return Response({"switches": global_switch_list(owner=request.user.owner)})


class GlobalSwitchSetApi(APIView):
    """PUT /switches/{name} with `{"value", "reason"}` → `{"switch", "action", "woken"}`."""

    def put(self, request, name):
        fields = Fields(json_body(request))
        value = fields.raw("value", required=True)
        reason = fields.string("reason", max_length=REASON_MAX, default="")
        fields.done()
        return Response(switches.global_switch_set(owner=request.user.owner, name=name, value=value,
                                                   actor=request.user.actor, reason=reason))
