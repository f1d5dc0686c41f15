"""Hold a reply until a transaction finishes: the long poll behind `wait` and `?wait=`.

In a served process the request registers with the process's one listener (engine.api.listener) and
blocks on an Event holding no database connection. With the inline dispatcher (the test harness,
where time is virtual and the engine runs in the same thread) it polls the row through `engine.clock`.
"""
import time
from datetime import timedelta

from django.db import close_old_connections, connection

from engine import clock, conf
from engine.api.listener import listener
from engine.selectors import transaction_get

POLL_SECONDS = 0.1


def wait_until_finished(tx_id, owner, seconds):
    """Return the transaction once it has finished, or as it is when `seconds` have passed."""
    if conf.get("DISPATCHER") == "inline" or connection.in_atomic_block:
        return _poll_until_finished(tx_id, owner, seconds)
    return _listen_until_finished(tx_id, owner, seconds)


def _listen_until_finished(tx_id, owner, seconds):
    give_up_at = time.monotonic() + seconds
    event = listener.register(tx_id)
    try:
        # Registered first, then read: a finish between the two is seen by this read.
        tx = transaction_get(tx_id=tx_id, owner=owner)
        if tx.is_finished:
            return tx
        # Nothing is held while blocked: the thread's connection is closed, reopened for the reply.
        connection.close()
        event.wait(max(0.0, give_up_at - time.monotonic()))
    finally:
        listener.unregister(tx_id, event)
    tx = transaction_get(tx_id=tx_id, owner=owner)
    # Do not keep this thread's connection past the request: a burst of long polls would otherwise
    # leave one idle persistent connection per request thread (CONN_MAX_AGE).
    connection.close_at = time.monotonic()
    return tx


def _poll_until_finished(tx_id, owner, seconds):
    give_up_at = clock.now() + timedelta(seconds=seconds)
    while True:
        tx = transaction_get(tx_id=tx_id, owner=owner)
        remaining = (give_up_at - clock.now()).total_seconds()
        if tx.is_finished or remaining <= 0:
            return tx
        # Between polls nothing is held: a broken or expired connection is dropped, not kept idle.
        # Inside an atomic block (tests, or a caller's transaction) closing would end that block.
        if not connection.in_atomic_block:
            close_old_connections()
        clock.sleep(min(POLL_SECONDS, remaining))
