"""PATCH /transactions/{tx_id}: move or clear the deadline of an unfinished transaction."""
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from engine.api.base import ApiView

from engine.api import schema
from engine.api.bodies import transaction_body
from engine.api.inputs import Fields, json_body
from engine.limits import REASON_MAX
from engine.services import transactions


class TransactionUpdateApi(ApiView):
    """PATCH /transactions/{tx_id} with `{"deadline": "PT1H" | timestamp | null, "reason"}`."""

    @extend_schema(operation_id="transaction_update", request=schema.DEADLINE_BODY,
                   responses=schema.responses("Transaction", conflict=True, body=True))
    def patch(self, request, tx_id):
        fields = Fields(json_body(request))
        deadline = fields.raw("deadline", required=True)
        reason = fields.string("reason", max_length=REASON_MAX, default="")
        fields.done()
        tx = transactions.transaction_set_deadline(tx_id=tx_id, deadline=deadline, owner=request.user.owner,
                                                   actor=request.user.actor, reason=reason)
        return Response(transaction_body(request, tx))
