"""Keep the figures the console and /metrics read: status counts and per-minute starts and finishes.

The nodes refresh them every few seconds (whichever node takes the mark row does it). Queued,
running and sleeping counts come from the partial indexes of those statuses (never a table scan);
finishes are counted per minute from `completed_at` (its partial index) over the unsettled minutes only;
sleepers are counted by owner and wait reason from the sleeper table's (owner, reason, wake_at) index.
"""
from collections import defaultdict
from datetime import timedelta

from django.db import connection, transaction
from django.db.models import Count
from django.db.models.functions import TruncMinute

from engine import clock
from engine.models import FigureMark, MinuteFigure, Owner, Sleeper, SleeperFigure, StatusFigure, Transaction
from engine.states import TX_ACTIVE_VALUES, TX_TERMINAL_VALUES

REFRESH_SECONDS = 5.0
# A finish committed up to this long after its `completed_at` is still counted: minutes settle this late.
SETTLE_LAG = timedelta(seconds=60)
KEEP_MINUTES = 180
MINUTE_COLUMNS = ("started", *TX_TERMINAL_VALUES)
KEY_FIELDS = ("owner_id", "pipeline_name", "node_group")


def floor_minute(moment):
    return moment.replace(second=0, microsecond=0)


def figures_refresh(*, now=None, if_older_than_seconds=None):
    """Recompute the figures as of `now` and return True; with `if_older_than_seconds`, leave figures
    that are at most that old. Return False when another process is refreshing them right now."""
    now = now or clock.now()
    mark = FigureMark.objects.filter(pk=1).first()
    if mark is None:
        FigureMark.objects.get_or_create(pk=1)
    elif _fresh(mark, now, if_older_than_seconds):
        return False
    with transaction.atomic():
        queryset = FigureMark.objects.filter(pk=1)
        if connection.features.has_select_for_update_skip_locked:
            queryset = queryset.select_for_update(skip_locked=True)
        mark = queryset.first()
        if mark is None or _fresh(mark, now, if_older_than_seconds):
            return False
        _refresh(mark, now)
    return True


def _fresh(mark, now, if_older_than_seconds):
    if if_older_than_seconds is None or mark.refreshed_at is None:
        return False
    age = (now - mark.refreshed_at).total_seconds()
    return 0 <= age < if_older_than_seconds


def _refresh(mark, now):
    keep_from = floor_minute(now) - timedelta(minutes=KEEP_MINUTES)
    settled = {(row.owner_id, row.pipeline_name, row.node_group, row.status): row.settled
               for row in StatusFigure.objects.filter(status__in=TX_TERMINAL_VALUES)}
    from_minute = mark.settled_until
    if from_minute is None or from_minute < keep_from:
        # Finishes older than the kept minutes go straight into the totals: once at the first refresh
        # (the only read of the whole finished history), or after the nodes were all down for hours.
        for key, n in _finishes(completed_before=keep_from, completed_from=from_minute).items():
            settled[key] = settled.get(key, 0) + n
        from_minute = keep_from
    buckets = _minute_buckets(from_minute)
    settle_to = max(from_minute, floor_minute(now - SETTLE_LAG))
    live = defaultdict(int)
    for (minute, *key), columns in buckets.items():
        for status in TX_TERMINAL_VALUES:
            if columns[status]:
                target = settled if minute < settle_to else live
                full_key = (*key, status)
                target[full_key] = target.get(full_key, 0) + columns[status]
    rows = [StatusFigure(owner_id=key[0], pipeline_name=key[1], node_group=key[2], status=key[3],
                         settled=n, count=n + live.pop(key, 0)) for key, n in settled.items()]
    rows += [StatusFigure(owner_id=key[0], pipeline_name=key[1], node_group=key[2], status=key[3], count=n)
             for key, n in list(live.items()) + list(_active_counts().items())]
    StatusFigure.objects.all().delete()
    StatusFigure.objects.bulk_create(rows)
    MinuteFigure.objects.filter(minute__gte=from_minute).delete()
    MinuteFigure.objects.filter(minute__lt=keep_from).delete()
    MinuteFigure.objects.bulk_create(
        MinuteFigure(minute=minute, owner_id=owner, pipeline_name=pipeline, node_group=group, **columns)
        for (minute, owner, pipeline, group), columns in buckets.items()
    )
    SleeperFigure.objects.all().delete()
    SleeperFigure.objects.bulk_create(
        SleeperFigure(owner_id=row["owner_id"], reason=row["reason"], count=row["n"])
        for row in Sleeper.objects.values("owner_id", "reason").annotate(n=Count("*")).order_by()
    )
    mark.refreshed_at = now
    mark.settled_until = settle_to
    mark.save(update_fields=["refreshed_at", "settled_until"])


def _finishes(*, completed_before, completed_from=None):
    """Count the finishes with `completed_at` in [completed_from, completed_before), by key and status."""
    queryset = Transaction.objects.filter(status__in=TX_TERMINAL_VALUES, completed_at__lt=completed_before)
    if completed_from is not None:
        queryset = queryset.filter(completed_at__gte=completed_from)
    rows = queryset.values("owner_id", "pipeline_name", "node_group_id", "status").annotate(n=Count("pk")).order_by()
    return {(r["owner_id"], r["pipeline_name"], r["node_group_id"], r["status"]): r["n"] for r in rows}


def _minute_buckets(from_minute):
    """Return {(minute, owner, pipeline, node group): {"started": n, <finished status>: n, ...}} from
    `from_minute` on."""
    buckets = defaultdict(lambda: dict.fromkeys(MINUTE_COLUMNS, 0))
    owners = list(Owner.objects.values_list("pk", flat=True))
    # Naming every owner lets the (owner, created_at) index serve the range.
    started = (Transaction.objects.filter(owner_id__in=owners, created_at__gte=from_minute)
               .annotate(minute=TruncMinute("created_at"))
               .values("minute", "owner_id", "pipeline_name", "node_group_id").annotate(n=Count("pk")).order_by())
    for row in started:
        buckets[(row["minute"], row["owner_id"], row["pipeline_name"], row["node_group_id"])]["started"] += row["n"]
    finished = (Transaction.objects.filter(completed_at__gte=from_minute, status__in=TX_TERMINAL_VALUES)
                .annotate(minute=TruncMinute("completed_at"))
                .values("minute", "owner_id", "pipeline_name", "node_group_id", "status")
                .annotate(n=Count("pk")).order_by())
    for row in finished:
        buckets[(row["minute"], row["owner_id"], row["pipeline_name"], row["node_group_id"])][row["status"]] += row["n"]
    return buckets


def _active_counts():
    """Return {(owner, pipeline, node group, status): n} for queued, running and sleeping transactions: one
    query per status, so each is served by its partial index (an IN over them would scan the table)."""
    counts = {}
    for status in TX_ACTIVE_VALUES:
        rows = (Transaction.objects.filter(status=status).values("owner_id", "pipeline_name", "node_group_id")
                .annotate(n=Count("pk")).order_by())
        for row in rows:
            counts[(row["owner_id"], row["pipeline_name"], row["node_group_id"], status)] = row["n"]
    return counts
