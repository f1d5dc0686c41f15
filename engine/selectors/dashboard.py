"""Reads of the dashboard and the node groups page: the nodes' figures, sleepers, wake-ups, nodes and
the latest failures, over a set of owners (None = every owner). Nothing here counts transactions or
sleepers: their counts come from the figures the nodes refresh."""
from datetime import timedelta

from django.db import connection
from django.db.models import Sum

from engine import conf
from engine.models import (
    FigureMark,
    MinuteFigure,
    Node,
    NodeGroup,
    Sleeper,
    SleeperFigure,
    StatusFigure,
    Transaction,
)
from engine.selectors import in_owners, owner_names
from engine.states import TX_ACTIVE_VALUES, TX_FAILURE_VALUES, TX_TERMINAL_VALUES, TxStatus, WaitReason

# Figures older than this mean no node is refreshing them.
FIGURES_STALE_SECONDS = 60
# A node whose heartbeat (every 5 s) is this old is shown as stale.
NODE_STALE_SECONDS = 15
THROUGHPUT_MINUTES = 5
CHART_MINUTES = 60
RECENT_FAILURES_WINDOW = timedelta(days=1)


def _floor_minute(moment):
    return moment.replace(second=0, microsecond=0)


def figures_as_of(*, now):
    """Return {"at": when the figures were refreshed (None: never), "stale": older than a minute, "age_seconds"}."""
    at = FigureMark.objects.filter(pk=1).values_list("refreshed_at", flat=True).first()
    age = None if at is None else (now - at).total_seconds()
    return {"at": at, "age_seconds": age, "stale": age is None or age > FIGURES_STALE_SECONDS}


def status_counts(*, owners, now):
    """Count every status: for queued, running and sleeping how many are in it; for a finished one how many
    ended in it in the last hour and in all (since the figures began)."""
    totals = {row["status"]: row["n"] for row in in_owners(queryset=StatusFigure.objects, owners=owners)
              .values("status").annotate(n=Sum("count")).order_by()}
    since = _floor_minute(now) - timedelta(minutes=CHART_MINUTES - 1)
    last_hour = in_owners(queryset=MinuteFigure.objects.filter(minute__gte=since), owners=owners).aggregate(
        **{status: Sum(status) for status in TX_TERMINAL_VALUES})
    return [{"status": str(status), "active": str(status) in TX_ACTIVE_VALUES, "count": totals.get(str(status)) or 0,
             "last_hour": last_hour.get(str(status)) or 0} for status in TxStatus]


def minute_series(*, owners, now, minutes=CHART_MINUTES):
    """Return the last `minutes` minutes, oldest first: {"minute", "started", "finished", "failed"} each."""
    first = _floor_minute(now) - timedelta(minutes=minutes - 1)
    rows = (in_owners(queryset=MinuteFigure.objects.filter(minute__gte=first), owners=owners).values("minute")
            .annotate(started=Sum("started"), **{status: Sum(status) for status in TX_TERMINAL_VALUES}).order_by())
    by_minute = {row["minute"]: row for row in rows}
    series = []
    for index in range(minutes):
        minute = first + timedelta(minutes=index)
        row = by_minute.get(minute, {})
        series.append({"minute": minute, "started": row.get("started") or 0,
                       "finished": sum(row.get(status) or 0 for status in TX_TERMINAL_VALUES),
                       "failed": sum(row.get(status) or 0 for status in TX_FAILURE_VALUES)})
    return series


def sleepers_by_reason(*, owners):
    """Return {"reason", "count"} for every wait reason (zero included), from the figures (as of their refresh:
    counting the sleeper table on every page view would read all of it)."""
    counts = {row["reason"]: row["n"] for row in in_owners(queryset=SleeperFigure.objects, owners=owners)
              .values("reason").annotate(n=Sum("count")).order_by()}
    return [{"reason": str(reason), "count": counts.get(str(reason), 0)} for reason in WaitReason]


def next_wakeups(*, owners, limit=8):
    """Return the earliest due sleepers with their transaction's type."""
    queryset = Sleeper.objects.filter(wake_at__isnull=False).select_related("tx").only(
        "tx_id", "owner_id", "reason", "switch", "wake_at", "step", "tx__pipeline_name")
    return list(in_owners(queryset=queryset, owners=owners).order_by("wake_at")[:limit])


def recent_failures(*, owners, now, limit=8):
    """Return the newest failed, internal-error, timed-out or aborted transactions created in the last day.

    On PostgreSQL one UNION ALL of the newest `limit` of each (owner, status): each part is a short
    range of `tx_owner_finished_list_idx`, so the read is bounded whatever else the owners created that day
    (with all four statuses and the owner in one WHERE the planner walks every row of the day instead)."""
    since = now - RECENT_FAILURES_WINDOW
    fields = ("id", "owner_id", "pipeline_name", "status", "step_name", "note", "created_at", "completed_at")
    order = ("-created_at", "-id")
    names = owner_names(owners=owners)
    if not names:
        return []
    if not connection.features.supports_slicing_ordering_in_compound:
        queryset = Transaction.objects.filter(owner_id__in=names, status__in=TX_FAILURE_VALUES,
                                              created_at__gte=since)
        return list(queryset.only(*fields).order_by(*order)[:limit])
    parts = [Transaction.objects.filter(owner_id=name, status=status, created_at__gte=since).only(*fields)
             .order_by(*order)[:limit] for name in names for status in TX_FAILURE_VALUES]
    return list(parts[0].union(*parts[1:], all=True).order_by(*order)[:limit])


def node_group_overview(*, owners, now):
    """List every node group with its nodes (each marked live or stale), its owners' queued, running and
    sleeping counts from the figures, and their finishes over the last few minutes."""
    counts = {}
    for row in (in_owners(queryset=StatusFigure.objects.filter(status__in=TX_ACTIVE_VALUES), owners=owners)
                .values("node_group", "status").annotate(n=Sum("count")).order_by()):
        counts[(row["node_group"], row["status"])] = row["n"]
    since = _floor_minute(now) - timedelta(minutes=THROUGHPUT_MINUTES - 1)
    finished = {}
    for row in (in_owners(queryset=MinuteFigure.objects.filter(minute__gte=since), owners=owners).values("node_group")
                .annotate(**{status: Sum(status) for status in TX_TERMINAL_VALUES}).order_by()):
        finished[row["node_group"]] = sum(row[status] or 0 for status in TX_TERMINAL_VALUES)
    gone_after = now - timedelta(seconds=conf.get("NODE_GONE_SECONDS"))
    stale_after = now - timedelta(seconds=NODE_STALE_SECONDS)
    nodes = {}
    for node in Node.objects.order_by("node_id"):
        node.live = not node.stopping and node.last_seen_at >= gone_after
        node.stale = node.last_seen_at < stale_after
        nodes.setdefault(node.group_id, []).append(node)
    groups = []
    for group in NodeGroup.objects.order_by("name"):
        group_nodes = nodes.get(group.name, [])
        groups.append({
            "group": group, "name": group.name, "paused": group.paused, "max_concurrency": group.max_concurrency,
            "nodes": group_nodes, "live_nodes": sum(1 for node in group_nodes if node.live),
            "workers": sum(node.workers for node in group_nodes if node.live),
            **{status: counts.get((group.name, status), 0) for status in TX_ACTIVE_VALUES},
            "finished": finished.get(group.name, 0), "throughput_minutes": THROUGHPUT_MINUTES,
        })
    return groups


def dashboard_overview(*, owners, now):
    """Return everything the dashboard shows, for `owners`, as of `now`."""
    return {
        "figures": figures_as_of(now=now),
        "counts": status_counts(owners=owners, now=now),
        "series": minute_series(owners=owners, now=now),
        "sleepers": sleepers_by_reason(owners=owners),
        "wakeups": next_wakeups(owners=owners),
        "groups": node_group_overview(owners=owners, now=now),
        "failures": recent_failures(owners=owners, now=now),
    }
