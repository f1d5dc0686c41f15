"""How services tell the runtime that a node group has work; the backend is DATP["DISPATCHER"].

- `inline` (tests): nothing is sent; engine.testing drains the queue itself.
- `django_q` (nodes): on PostgreSQL a NOTIFY on `datp_work` (`engine.notices`), sent inside the
  database transaction that queued the work, so it arrives exactly when that commits; the group's nodes
  wake at once and queue drain tasks. On SQLite nothing is sent: nodes poll the queued-rows index a few
  times a second.
"""
from engine import notices


def work_queued(node_group):
    """Called inside the database transaction that queued work for `node_group` (a statement that
    queues work on PostgreSQL may send the same NOTIFY itself, as the transaction start does)."""
    notices.notify_work(node_group)
