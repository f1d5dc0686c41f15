"""Transactions: start, read (with long poll), their step runs and journal, and the operator actions."""
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response

from engine.api import schema
from engine.api.base import ApiView
from engine.api.bodies import transaction_body
from engine.api.inputs import Fields, json_body, wait_seconds
from engine.api.long_poll import wait_until_finished
from engine.api.pagination import decode_cursor, page_limit, paged
from engine.api.starts import start_fields
from engine.limits import REASON_MAX
from engine.selectors import (
    JUST_STARTED,
    journal_entry_as_dict,
    journal_page,
    step_run_as_dict,
    step_runs_page,
    transaction_get,
)
from engine.selectors.fan_outs import fan_out_as_dict, fan_outs_page
from engine.services import transactions
from engine.services.rewind import transaction_rewind

REWIND_FIELDS = ("to_step", "data", "version", "reason", "deadline", "webhook_again")


class TransactionStartApi(ApiView):
    """POST /transactions: start one (201), replay an identical start (200), or refuse a clash (409)."""

    @extend_schema(operation_id="transaction_start", request=schema.START_BODY, responses={
        **schema.responses("Transaction", status=201, conflict=True, body=True),
        200: schema.OpenApiResponse(response=schema.ref("Transaction"), description="An identical start, replayed.")})
    def post(self, request):
        options, wait = start_fields(json_body(request))
        seconds = wait_seconds(wait)
        owner = request.user.owner
        tx, created = transactions.transaction_start(owner=owner, actor=request.user.actor, **options)
        if seconds:
            tx = wait_until_finished(tx.pk, owner, seconds)
            body = transaction_body(request, tx)
        else:
            body = transaction_body(request, tx, prefetched=JUST_STARTED if created else None)
        if created:
            return Response(body, status=status.HTTP_201_CREATED, headers={"Location": body["links"]["self"]})
        return Response(body, headers={"Idempotent-Replayed": "true"})


class TransactionGetApi(ApiView):
    """GET /transactions/{tx_id}, with `?wait=` to hold the reply until it finishes."""

    @extend_schema(operation_id="transaction_get", parameters=[schema.WAIT], responses=schema.responses("Transaction"))
    def get(self, request, tx_id):
        seconds = wait_seconds(request.query_params.get("wait"))
        tx = transaction_get(tx_id=tx_id, owner=request.user.owner)
        if seconds and not tx.is_finished:
            tx = wait_until_finished(tx.pk, request.user.owner, seconds)
        return Response(transaction_body(request, tx))


def _records_page(request, tx_id, read, key, render):
    """Answer a page of one transaction's records, oldest first: `read(tx, after, limit)` reads them after the
    cursor's position (an int), `key(row)` is a row's position, `render(row)` its object."""
    limit = page_limit(request)
    (after,) = decode_cursor(request, (int,)) or (0,)
    tx = transaction_get(tx_id=tx_id, owner=request.user.owner)
    return Response(paged(request, read(tx, after, limit + 1), limit, key, render))


class TransactionStepsApi(ApiView):
    """GET /transactions/{tx_id}/steps: its step runs, oldest first, paged."""

    @extend_schema(operation_id="transaction_steps", parameters=[schema.LIMIT, schema.CURSOR],
                   responses=schema.responses("StepRunPage"))
    def get(self, request, tx_id):
        return _records_page(request, tx_id, lambda tx, after, limit: step_runs_page(
            tx_id=tx.pk, after_seq=after, limit=limit), lambda run: [run.seq], lambda run: step_run_as_dict(run=run))


class TransactionJournalApi(ApiView):
    """GET /transactions/{tx_id}/journal: everything that happened to it, oldest first, paged."""

    @extend_schema(operation_id="transaction_journal", parameters=[schema.LIMIT, schema.CURSOR],
                   responses=schema.responses("JournalPage"))
    def get(self, request, tx_id):
        return _records_page(request, tx_id, lambda tx, after, limit: journal_page(
            tx_id=tx.pk, after_seq=after, limit=limit), lambda entry: [entry.seq],
            lambda entry: journal_entry_as_dict(entry=entry))


class TransactionFanOutsApi(ApiView):
    """GET /transactions/{tx_id}/fan-outs: the fan-outs its steps started (util/map, ctx.start_children),
    oldest first, paged, each with its progress and the link to its children."""

    @extend_schema(operation_id="transaction_fan_outs", parameters=[schema.LIMIT, schema.CURSOR],
                   responses=schema.responses("FanOutPage"))
    def get(self, request, tx_id):
        return _records_page(request, tx_id, lambda tx, after, limit: fan_outs_page(
            tx_id=tx.pk, after_id=after, limit=limit), lambda fan: [fan.pk], lambda fan: fan_out_as_dict(fan=fan))


def _reason(fields):
    return fields.string("reason", max_length=REASON_MAX, default="")


class _ReasonActionApi(ApiView):
    """An action that takes only an optional reason and answers with the transaction object."""

    service = None

    @extend_schema(request=schema.REASON_BODY, responses=schema.responses("Transaction", conflict=True, body=True))
    def post(self, request, tx_id):
        fields = Fields(json_body(request))
        reason = _reason(fields)
        fields.done()
        tx = type(self).service(tx_id=tx_id, owner=request.user.owner, actor=request.user.actor, reason=reason)
        return Response(transaction_body(request, tx))


class TransactionCancelApi(_ReasonActionApi):
    """POST /transactions/{tx_id}/cancel."""

    service = transactions.transaction_cancel


class TransactionWakeApi(_ReasonActionApi):
    """POST /transactions/{tx_id}/wake."""

    service = transactions.transaction_wake


class TransactionRetryApi(ApiView):
    """POST /transactions/{tx_id}/retry, with an optional new `deadline`."""

    @extend_schema(operation_id="transaction_retry", request=schema.RETRY_BODY,
                   responses=schema.responses("Transaction", conflict=True, body=True))
    def post(self, request, tx_id):
        fields = Fields(json_body(request))
        reason = _reason(fields)
        deadline = fields.raw("deadline")
        fields.done()
        tx = transactions.transaction_retry(tx_id=tx_id, owner=request.user.owner, actor=request.user.actor,
                                            reason=reason, deadline=deadline)
        return Response(transaction_body(request, tx))


class TransactionRewindApi(ApiView):
    """POST /transactions/{tx_id}/rewind: send a queued, sleeping or ended transaction back to `to_step`, with
    `data` (default: as that step last started), on `version` (default its own; "current": the one in use)."""

    @extend_schema(operation_id="transaction_rewind", request=schema.REWIND_BODY,
                   responses=schema.responses("Transaction", conflict=True, body=True))
    def post(self, request, tx_id):
        fields = Fields(json_body(request), allowed=REWIND_FIELDS)
        to_step = fields.string("to_step", required=True)
        version = fields.string("version")
        reason = _reason(fields)
        data, deadline = fields.raw("data"), fields.raw("deadline")
        webhook_again = fields.boolean("webhook_again")
        fields.done()
        tx = transaction_rewind(tx_id=tx_id, owner=request.user.owner, actor=request.user.actor, to_step=to_step,
                                data=data, version=version, reason=reason, deadline=deadline,
                                webhook_again=webhook_again)
        return Response(transaction_body(request, tx))
