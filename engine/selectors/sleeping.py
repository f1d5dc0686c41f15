"""Reads for the Sleeping and Switches pages: sleepers by next wake-up, the switches sleepers wait on,
and global switches; every read is limited to a set of owners (None: every owner)."""
from django.db.models import Count, Min, OuterRef, Q, Subquery

from engine.models import GlobalSwitch, GlobalSwitchChange, Sleeper
from engine.selectors import in_owners

# Payload columns a list never shows: they may hold up to the API's payload limit each.
TX_PAYLOADS = ("tx__input", "tx__output", "tx__metadata", "tx__progress", "tx__pending_input")
SWITCH_GROUPS_MAX = 500


def sleeper_page(*, owners, reason=None, switch=None, transaction_type=None, owner=None, after=None, limit):
    """Return up to `limit` sleepers (with their transaction, callback and fan-out) by next wake-up, those with no timer
    last, then by tx id. `after` is the keyset position (wake_at or None, tx_id) of the previous page's
    last row. Timed and untimed sleepers are read apart so that each read walks an index in its order:
    `sleeper_due_idx` (or `sleeper_owner_reason_idx`) for the timed, the primary key for the rest."""
    queryset = in_owners(queryset=Sleeper.objects.select_related("tx", "callback", "fan_out").defer(*TX_PAYLOADS),
                         owners=owners)
    exact = {"owner_id": owner, "reason": reason, "switch": switch, "tx__pipeline_name": transaction_type}
    queryset = queryset.filter(**{field: value for field, value in exact.items() if value})
    wake_at, tx_id = after if after is not None else (None, None)
    rows = []
    if after is None or wake_at is not None:
        timed = queryset.filter(wake_at__isnull=False)
        if after is not None:
            timed = timed.filter(Q(wake_at__gt=wake_at) | Q(wake_at=wake_at, tx_id__gt=tx_id))
        rows = list(timed.order_by("wake_at", "tx_id")[:limit])
    if len(rows) < limit:
        untimed = queryset.filter(wake_at__isnull=True)
        if after is not None and wake_at is None:
            untimed = untimed.filter(tx_id__gt=tx_id)
        rows += list(untimed.order_by("tx_id")[:limit - len(rows)])
    return rows


def switch_wait_groups(*, owners):
    """List the switches sleepers wait on, one row per (owner, scope, switch): how many wait, since when the
    oldest waits, and the earliest timeout; one GROUP BY served by `sleeper_switch_idx`."""
    queryset = in_owners(queryset=Sleeper.objects.filter(switch__isnull=False), owners=owners)
    rows = (queryset.values("owner_id", "scope", "switch")
            .annotate(waiting=Count("tx_id"), oldest_since=Min("since"), next_timeout_at=Min("timeout_at"))
            .order_by("switch", "scope", "owner_id"))
    return list(rows[:SWITCH_GROUPS_MAX])


def global_switch_rows(*, owners):
    """List the global switches of the owners in scope, by owner and name, each with its last change's
    reason and how many transactions that change woke (one query)."""
    last = GlobalSwitchChange.objects.filter(switch_id=OuterRef("pk")).order_by("-at", "-id")
    queryset = in_owners(queryset=GlobalSwitch.objects.all(), owners=owners).annotate(
        last_reason=Subquery(last.values("reason")[:1]),
        last_woken=Subquery(last.values("woken")[:1]),
    )
    return list(queryset.order_by("owner_id", "name"))
