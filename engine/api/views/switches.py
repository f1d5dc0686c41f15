"""A transaction's switches: list, set, clear."""
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from engine.api.base import ApiView

from engine.api import schema
from engine.api.inputs import Fields, json_body
from engine.limits import REASON_MAX
from engine.selectors import transaction_get
from engine.services import switches


class SwitchListApi(ApiView):
    """GET /transactions/{tx_id}/switches."""

    @extend_schema(operation_id="switch_list", responses=schema.responses("SwitchList"))
    def get(self, request, tx_id):
        tx = transaction_get(tx_id=tx_id, owner=request.user.owner)
        return Response({"switches": switches.switches_of(tx_id=tx.pk)})


class SwitchSetApi(ApiView):
    """PUT /transactions/{tx_id}/switches/{name} with `{"value", "reason"}`."""

    @extend_schema(operation_id="switch_set", request=schema.SWITCH_BODY,
                   responses=schema.responses("SwitchResult", conflict=True, body=True))
    def put(self, request, tx_id, name):
        fields = Fields(json_body(request))
        value = fields.raw("value", required=True)
        reason = fields.string("reason", max_length=REASON_MAX, default="")
        fields.done()
        return Response(switches.switch_set(tx_id=tx_id, name=name, value=value, reason=reason,
                                            owner=request.user.owner, actor=request.user.actor))


class SwitchClearApi(ApiView):
    """DELETE /transactions/{tx_id}/switches/{name}: the value becomes null."""

    @extend_schema(operation_id="switch_clear", request=schema.REASON_BODY,
                   responses=schema.responses("SwitchResult", conflict=True, body=True))
    def delete(self, request, tx_id, name):
        fields = Fields(json_body(request))
        reason = fields.string("reason", max_length=REASON_MAX, default="")
        fields.done()
        return Response(switches.switch_set(tx_id=tx_id, name=name, value=None, reason=reason,
                                            owner=request.user.owner, actor=request.user.actor))
