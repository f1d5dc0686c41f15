"""The transaction object as the API answers it: for a caller that may act for the owner, `waiting.callback_url`
and `waiting.callbacks[].url` carry the paths of its open callbacks (webhooks never get them)."""
from engine.selectors import transaction_as_dict, transactions_as_dicts


def shows_callback_url(request):
    """A callback's URL is a credential to act: a read-only console viewer does not get it."""
    return request.user.role != "viewer"


def transaction_body(request, tx, **kwargs):
    return transaction_as_dict(tx=tx, callback_url=shows_callback_url(request), **kwargs)


def transaction_bodies(request, txs, **kwargs):
    return transactions_as_dicts(txs=txs, callback_url=shows_callback_url(request), **kwargs)
