"""A bulk start: many transactions of one owner, each checked as a lone start is (`start_row`), each with
its own result or typed error, the valid ones inserted together in one database transaction."""
from django.db import IntegrityError, transaction

from engine import clock
from engine.errors import DatpError, InvalidRequest
from engine.limits import BULK_START_MAX
from engine.models import Transaction
from engine.services.state.start import Pipelines, insert_rows
from engine.services.transactions import replay, start_row

START_FIELDS = ("transaction_type", "data", "metadata", "external_id", "deadline", "webhook", "webhook_progress")
INSERT_ATTEMPTS = 3  # a concurrent start may take an external id between the read and the insert


def transaction_start_many(*, owner, transactions, actor="system"):
    """Start each item of `transactions` for `owner`: a dict of `transaction_start`'s fields (those of
    START_FIELDS; only `transaction_type` is required), or a DatpError the caller already found in it.

    Returns one result per item, in order: (tx, created) as `transaction_start` returns it, or the DatpError
    that refused it (nothing of it written). The items go as if started one after another: an external id
    given twice is created by the first and replayed (or a DuplicateExternalId) by the next. 1 to
    BULK_START_MAX items; else InvalidRequest (field `transactions`) and nothing is started. `actor` is the
    journal's actor of every item, or a list of one per item (a batch of schedules' runs).
    """
    if not isinstance(transactions, list | tuple) or not 1 <= len(transactions) <= BULK_START_MAX:
        raise InvalidRequest(f"A bulk start takes 1 to {BULK_START_MAX} transactions.", max_items=BULK_START_MAX,
                             fields={"transactions": [f"Must be a list of 1 to {BULK_START_MAX} transactions."]})
    now = clock.now()
    for attempt in range(INSERT_ATTEMPTS):
        results, rows = _plan(owner, transactions, now)
        actors = None
        if isinstance(actor, list):  # one per item: those of the rows to insert, in their order
            inserted = {id(pair[0]) for pair in rows}
            actors = [name for name, result in zip(actor, results, strict=True)
                      if isinstance(result, tuple) and id(result[0]) in inserted and result[1]]
        try:
            with transaction.atomic():
                insert_rows(rows, actor=actor, actors=actors)
        except IntegrityError:
            # Another start took one of the external ids since _plan read them: plan again, which finds it.
            if attempt == INSERT_ATTEMPTS - 1:
                raise
            continue
        return results


def _plan(owner, items, now):
    """Return (the result of each item, the rows to insert) for `items` as of now."""
    pipelines = Pipelines(item.get("transaction_type") for item in items if isinstance(item, dict))
    taken = _holders(owner, [item.get("external_id") for item in items if isinstance(item, dict)])
    results, rows = [], []
    for item in items:
        try:
            if isinstance(item, DatpError):
                raise item
            _check_item(item)
            tx, created = start_row(owner=owner, now=now, pipelines=pipelines, **{
                name: item.get(name) for name in START_FIELDS})
            holder = taken.get(tx.external_id) if tx.external_id is not None else None
            if holder is not None:
                results.append(replay(holder, tx))
                continue
        except DatpError as exc:
            results.append(exc)
            continue
        if tx.external_id is not None:
            taken[tx.external_id] = tx
        rows.append((tx, created))
        results.append((tx, True))
    return results, rows


def _check_item(item):
    if not isinstance(item, dict):
        raise InvalidRequest("The request has invalid fields.", fields={"body": ["Must be a JSON object."]})
    unknown = sorted(set(item) - set(START_FIELDS))
    if unknown:
        raise InvalidRequest("The request has invalid fields.", fields={name: ["Unknown field."] for name in unknown})


def _holders(owner, external_ids):
    """{external id: its transaction} of those of `external_ids` that `owner` already used, in one query."""
    wanted = {value for value in external_ids if isinstance(value, str)}
    if not wanted:
        return {}
    return {tx.external_id: tx for tx in Transaction.objects.filter(owner_id=owner, external_id__in=wanted)}
