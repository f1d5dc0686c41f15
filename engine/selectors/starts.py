"""The reply of a bulk start, as the API and the client give it: one result per item, in order."""
from engine.errors import DatpError
from engine.selectors import JUST_STARTED, transaction_as_dict, transactions_as_dicts


def start_results_as_dicts(*, outcomes, callback_url=False):
    """Return {"results", "created", "replayed", "failed"} for the outcomes of `transaction_start_many`: each
    item's `index` and `status` (201 created, 200 replayed, else its error's) with its `transaction` (without
    the payload, as in lists) or its `error` ({"code", "message", "extra"})."""
    started = [outcome for outcome in outcomes if not isinstance(outcome, DatpError)]
    created = {tx.pk for tx, fresh in started if fresh}
    earlier = list({tx.pk: tx for tx, _ in started if tx.pk not in created}.values())
    # What an earlier transaction waits on is read for all of them at once; a new one waits on nothing yet.
    bodies = {body["tx_id"]: body for body in transactions_as_dicts(txs=earlier, callback_url=callback_url)}
    results = []
    for index, outcome in enumerate(outcomes):
        if isinstance(outcome, DatpError):
            results.append({"index": index, "status": outcome.http_status, "error": outcome.as_dict()})
            continue
        tx, fresh = outcome
        body = bodies.get(tx.pk) or transaction_as_dict(tx=tx, payload=False, prefetched=JUST_STARTED,
                                                         callback_url=callback_url)
        results.append({"index": index, "status": 201 if fresh else 200, "transaction": body})
    replayed = len(started) - sum(1 for _, fresh in started if fresh)
    return {"results": results, "created": len(created), "replayed": replayed,
            "failed": len(outcomes) - len(started)}
