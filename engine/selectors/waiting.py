"""The `waiting` object of a sleeping transaction: what it waits on (with a fan-out's progress) and, for its
owner, the URLs of its open callbacks (each carries its token, so only a caller that may act for the owner
gets them)."""
from engine import tokens
from engine.models import Callback
from engine.selectors.fan_outs import fan_out_as_dict
from engine.selectors.formats import iso
from engine.states import CALLBACK_ACTIVE_VALUES


def open_callbacks_of(*, tx_ids):
    """Return the open (not final) callbacks of `tx_ids`, by tx id, oldest first, in one query."""
    found = {tx_id: [] for tx_id in tx_ids}
    if found:
        rows = (Callback.objects.filter(tx_id__in=list(found), status__in=CALLBACK_ACTIVE_VALUES)
                .order_by("created_at", "id"))
        for row in rows:
            found[row.tx_id].append(row)
    return found


def _url_maker(callback_url):
    """Turn the `callback_url` argument into a function of a token (or None when no URL is shown)."""
    if not callback_url:
        return None
    if callable(callback_url):
        return lambda token: callback_url(tokens.url(token))
    return tokens.url


def _url(callback, make):
    if make is None or callback is None or callback.is_final:
        return None
    token = tokens.of_callback(callback)
    return None if token is None else make(token)


def callback_url_of(*, callback, absolute=None):
    """Return the URL a partner reports to for an open `callback` (None once final, or for a token issued
    before tokens could be derived again); `absolute` makes the path whole (request.build_absolute_uri).
    It carries the token: show it only to someone who may act for the owner."""
    return _url(callback, _url_maker(absolute or True))


def waiting_as_dict(*, sleeper, callback_url=False, open_callbacks=None):
    """Return what a sleeping transaction waits on (None if it is not sleeping).

    `callback_url` says whether to show callback URLs (credentials: the API, for a caller that may act for
    the owner; never in webhooks): False for none, True for paths (as the API writes its links), or a
    function making a path absolute. `callback_url` is the URL of the callback it awaits; `callbacks` lists
    every open callback of the transaction ({name, status, timeout_at, url}), read here unless
    `open_callbacks` (a list of Callback rows) is given; `url` is the deprecated name of `callback_url`,
    always a path. `children` is the progress of the fan-out it waits on (reason "children"), else None:
    read the sleeper with its `fan_out` (select_related) to spare a query."""
    if sleeper is None:
        return None
    if open_callbacks is None:
        open_callbacks = open_callbacks_of(tx_ids=[sleeper.tx_id])[sleeper.tx_id]
    make = _url_maker(callback_url)
    awaited = sleeper.callback if sleeper.callback_id else None
    return {
        "reason": sleeper.reason,
        "switch": sleeper.switch,
        "scope": sleeper.scope if sleeper.switch else None,
        "callback": awaited.name if awaited else None,
        "child_tx_id": sleeper.child_id,
        "wake_at": iso(sleeper.wake_at),
        "timeout_at": iso(sleeper.timeout_at),
        "since": iso(sleeper.since),
        "step": sleeper.step,
        "callback_url": _url(awaited, make),
        "callbacks": [{"name": c.name, "status": c.status, "timeout_at": iso(c.timeout_at), "url": _url(c, make)}
                      for c in open_callbacks],
        "url": _url(awaited, _url_maker(bool(callback_url))),
        "children": fan_out_as_dict(fan=sleeper.fan_out) if sleeper.fan_out_id else None,
    }
