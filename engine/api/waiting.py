"""Hold a reply until a transaction finishes: the long poll behind `wait` and `?wait=`.

It polls the row with a short sleep; the runtime may later replace the body of
`wait_until_finished` with LISTEN/NOTIFY without touching the views.
"""
from datetime import timedelta

from django.db import close_old_connections, connection

from engine import clock
from engine.selectors import transaction_get

POLL_SECONDS = 0.1


def wait_until_finished(tx_id, owner, seconds):
    """Return the transaction once it has finished, or as it is when `seconds` have passed."""
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
