"""POST /transactions/batch: start up to BULK_START_MAX transactions at once, each with its own result."""
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from engine.api import schema
from engine.api.base import ApiView
from engine.api.bodies import shows_callback_url
from engine.api.inputs import Fields, json_body
from engine.api.parsers import JsonParser, body_problems
from engine.api.starts import start_fields
from engine.errors import DatpError, InvalidRequest
from engine.selectors.starts import start_results_as_dicts
from engine.services.start_many import transaction_start_many

NO_WAIT = "A bulk start does not wait: read each transaction with GET /api/v1/transactions/{tx_id}?wait=."


class BatchParser(JsonParser):
    """Leave the items of `transactions` to the view, which refuses a bad one alone (not the whole batch)."""

    def problems(self, value):
        if isinstance(value, dict) and isinstance(value.get("transactions"), list):
            return body_problems({name: item for name, item in value.items() if name != "transactions"})
        return super().problems(value)


def _item(item):
    """The fields of one item for the service, or the DatpError that refuses it (as POST /transactions would);
    an item that is no object goes on as it is, for the service to refuse."""
    try:
        problems = body_problems(item)
        if problems:
            raise InvalidRequest("The request has invalid fields.", fields=problems)
        if not isinstance(item, dict):
            return item  # the service refuses it
        options, wait = start_fields(item)
        if wait is not None:
            raise InvalidRequest("The request has invalid fields.", fields={"wait": [NO_WAIT]})
    except DatpError as exc:
        return exc
    return options


class TransactionStartBatchApi(ApiView):
    """POST /transactions/batch: 200 with one result per item, in order (201 created, 200 replayed, or the
    error a lone start would have had); a batch that is not 1 to BULK_START_MAX items is a 400."""

    parser_classes = [BatchParser]

    @extend_schema(operation_id="transaction_start_batch", request=schema.BATCH_BODY,
                   responses=schema.responses("BatchResult", body=True))
    def post(self, request):
        fields = Fields(json_body(request))
        items = fields.raw("transactions", required=True)
        fields.done()
        outcomes = transaction_start_many(owner=request.user.owner, actor=request.user.actor,
                                          transactions=[_item(item) for item in items]
                                          if isinstance(items, list) else items)
        return Response(start_results_as_dicts(outcomes=outcomes, callback_url=shows_callback_url(request)))
