"""Finding transactions: the filtered, keyset-paged list, and lookup by external id."""
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from engine.api.base import ApiView

from engine import durations
from engine.api import schema
from engine.api.bodies import transaction_bodies, transaction_body
from engine.api.inputs import wait_seconds
from engine.api.long_poll import wait_until_finished
from engine.api.pagination import decode_cursor, next_url, page_limit
from engine.errors import InvalidRequest
from engine.selectors import iso, transaction_get_by_external_id, transaction_list
from engine.states import TxStatus, WaitReason

TEXT_FILTERS = ("transaction_type", "external_id", "node_group", "switch", "parent_tx_id")
TEXT_MAX = 200


def _filters(params):
    """The list's filters from the query string, or one InvalidRequest naming every bad one."""
    errors, found = {}, {}
    for name in TEXT_FILTERS:
        value = params.get(name)
        if value in (None, ""):
            continue
        if len(value) > TEXT_MAX:
            errors[name] = [f"At most {TEXT_MAX} characters."]
        found[name] = value
    if params.get("status"):
        statuses = [part.strip() for part in params["status"].split(",") if part.strip()]
        unknown = [part for part in statuses if part not in TxStatus.values]
        if unknown or not statuses:
            errors["status"] = [f"One or more of {', '.join(TxStatus.values)}, comma-separated."]
        found["statuses"] = statuses
    if params.get("waiting_reason"):
        if params["waiting_reason"] not in WaitReason.values:
            errors["waiting_reason"] = [f"One of {', '.join(WaitReason.values)}."]
        found["waiting_reason"] = params["waiting_reason"]
    if params.get("fan_out"):
        value = params["fan_out"]
        if not (value.isascii() and value.isdigit()) or len(value) > 18:
            errors["fan_out"] = ["A fan-out id: a whole number (waiting.children.fan_out)."]
        else:
            found["fan_out"] = int(value)
    for name in ("created_after", "created_before"):
        if params.get(name):
            try:
                found[name] = durations.parse_timestamp(params[name])
            except durations.BadDuration:
                errors[name] = ["Not an ISO 8601 timestamp with a time zone."]
    expand = params.get("expand")
    if expand not in (None, "", "payload"):
        errors["expand"] = ["The only expansion is 'payload'."]
    if errors:
        raise InvalidRequest("The request has invalid filters.", fields=errors)
    return found


def _after(request):
    """The keyset position (created_at, tx_id) the cursor names, or None on the first page."""
    values = decode_cursor(request, (str, str))
    if values is None:
        return None
    try:
        return durations.parse_timestamp(values[0]), values[1]
    except durations.BadDuration as exc:
        raise InvalidRequest("cursor: not a cursor this list gave.",
                             fields={"cursor": ["Not a valid cursor."]}) from exc


class TransactionListApi(ApiView):
    """GET /transactions: the owner's transactions, newest first, filtered and paged; payloads only
    with `?expand=payload`."""

    @extend_schema(operation_id="transaction_list", parameters=schema.LIST_FILTERS,
                   responses=schema.responses("TransactionPage"))
    def get(self, request):
        filters = _filters(request.query_params)
        limit = page_limit(request)
        before = _after(request)
        rows = transaction_list(owner=request.user.owner, before=before, limit=limit + 1, **filters)
        payload = request.query_params.get("expand") == "payload"
        page = rows[:limit]
        more = len(rows) > limit
        return Response({
            "results": transaction_bodies(request, page, payload=payload),
            "next": next_url(request, [iso(page[-1].created_at), page[-1].pk]) if more else None,
        })


class TransactionByExternalIdApi(ApiView):
    """GET /transactions/by-external-id/{external_id}, with `?wait=` as for the status."""

    @extend_schema(operation_id="transaction_by_external_id", parameters=[schema.WAIT],
                   responses=schema.responses("Transaction"))
    def get(self, request, external_id):
        seconds = wait_seconds(request.query_params.get("wait"))
        tx = transaction_get_by_external_id(owner=request.user.owner, external_id=external_id)
        if seconds and not tx.is_finished:
            tx = wait_until_finished(tx.pk, request.user.owner, seconds)
        return Response(transaction_body(request, tx))
