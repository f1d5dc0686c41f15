"""Telling web processes that a transaction finished: NOTIFY `datp_finished` on PostgreSQL.

Engine-level so that both the services (which send) and the API's listener (which receives) can
use it; the LISTEN/NOTIFY plumbing itself stays in `engine.runtime.pg`.
"""
from engine.runtime import dispatch, pg

FINISHED_CHANNEL = "datp_finished"
Listener = pg.Listener
is_postgres = pg.is_postgres


def notify_finished(tx_id):
    """NOTIFY the finished transaction's id (delivered when the caller's transaction commits).

    Only on PostgreSQL, and not with the inline dispatcher (tests): nothing listens there."""
    if dispatch.sends_notices() and pg.is_postgres():
        pg.notify(FINISHED_CHANNEL, tx_id)
