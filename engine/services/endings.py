"""What an ending sets off beyond its own writes, and when: `has_followups(tx)`, and the same rule in SQL
for the one-statement finish (`engine.services.state.finish`), which may run only where it is false.

Read by the state layer and by `engine.services.followups` (which runs the follow-ups): a leaf, so the
state layer can build its statement from the rule without depending on the follow-ups themselves.
"""
from engine.states import TxStatus

# An end that cancels what the transaction still had open: its active callbacks and its children.
CASCADING = frozenset({TxStatus.CANCELLED, TxStatus.TIMEOUT})
# Whom an ending tells: the parent awaiting it, the callback it reports to, the webhook it was started with.
LINKS = ("parent_id", "report_to_id", "webhook_url")


def has_followups(tx):
    """Return whether ending `tx` (in its current status) has follow-ups beyond the finished signal."""
    return tx.status in CASCADING or any(getattr(tx, link) for link in LINKS)


def ends_alone(target):
    """Return whether an end with `target` has no follow-ups by its status alone (then only the links decide)."""
    return target not in CASCADING


# The links' half of `has_followups` as a condition on engine_transaction, for the one-statement finish.
NO_LINKS_SQL = " AND ".join(f"{link} IS NULL" for link in LINKS)
