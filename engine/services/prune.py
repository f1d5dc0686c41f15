"""Retention: delete finished transactions (and their step runs, switches, callbacks, journal, ...)."""
from django.db import transaction

from engine import clock, durations
from engine.errors import InvalidRequest
from engine.models import Transaction
from engine.states import TX_TERMINAL_VALUES


def transactions_prune(*, older_than, batch=500):
    """Delete, in batches, transactions finished before now − `older_than`; return how many.

    Only top-level transactions are chosen; their children go with them (they cascade), so a parent
    with an unfinished descendant (a child, or a background grandchild) is kept until it finishes too.
    """
    now = clock.now()
    try:
        cutoff = durations.before(now, older_than)
    except durations.BadDuration as exc:
        raise durations.field_error("older_than", exc) from exc
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise InvalidRequest("batch: must be a whole number >= 1", fields={"batch": ["Must be >= 1."]})
    deleted = 0
    while True:
        with transaction.atomic():
            active_children = Transaction.objects.active().filter(parent__isnull=False).values("parent_id")
            ids = list(
                Transaction.objects.filter(status__in=TX_TERMINAL_VALUES, completed_at__lt=cutoff, parent__isnull=True)
                .exclude(pk__in=active_children)
                .exclude(pk__in=_roots_of_deep_active())
                .order_by("completed_at").values_list("pk", flat=True)[:batch]
            )
            if not ids:
                return deleted
            Transaction.objects.filter(pk__in=ids).delete()
            deleted += len(ids)


def _roots_of_deep_active():
    """Return the top-level ancestors of unfinished transactions two or more levels down (usually none)."""
    level = set(
        Transaction.objects.active().filter(parent__parent__isnull=False).values_list("parent__parent_id", flat=True)
    )
    roots = set()
    while level:
        rows = list(Transaction.objects.filter(pk__in=level).values_list("pk", "parent_id"))
        roots |= {pk for pk, parent in rows if parent is None}
        level = {parent for _, parent in rows if parent is not None}
    return roots
