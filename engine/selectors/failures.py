"""Reads for the Failures page: failed, internal-error, timed-out and aborted transactions created in a
bounded time window, grouped by (type, step) with counts and the latest few of each group with their
last error. Both queries are served by `tx_owner_finished_list_idx` (owner, status, -created_at, -id)."""
from datetime import timedelta

from django.db.models import Count, F, Max, OuterRef, Q, Subquery, Window
from django.db.models.functions import Left, RowNumber

from engine.models import StepRun, Transaction
from engine.selectors import owner_names
from engine.states import TX_FAILURE_VALUES

WINDOWS = {"1h": timedelta(hours=1), "24h": timedelta(days=1), "7d": timedelta(days=7),
           "30d": timedelta(days=30)}
DEFAULT_WINDOW = "7d"
GROUPS_MAX = 200
ERROR_CHARS = 2000


def _failures(*, owners, since, transaction_type=None, status=None):
    # The owners are always named (every owner's name for a system user), so that the index's leading
    # column is constrained and the window is a range scan of it rather than a scan of the table.
    queryset = Transaction.objects.filter(
        owner_id__in=owner_names(owners=owners),
        status__in=[status] if status else TX_FAILURE_VALUES,
        created_at__gte=since,
    )
    if transaction_type:
        queryset = queryset.filter(pipeline_name=transaction_type)
    return queryset


def failure_groups(*, owners, since, transaction_type=None, status=None, latest=3):
    """Group the failures by (transaction type, step), newest failure first: each a dict with `count`,
    a count per status, `last_at`, and `latest`: up to `latest` transactions, newest first, each with
    `last_error` (the error, else the note, of its last step run; else the transaction's note) and
    `error_summary` (its last line)."""
    base = _failures(owners=owners, since=since, transaction_type=transaction_type, status=status)
    per_status = {f"n_{name}": Count("id", filter=Q(status=name)) for name in TX_FAILURE_VALUES}
    groups = list(
        base.values("pipeline_name", "step_name")
        .annotate(count=Count("id"), last_at=Max("completed_at"), **per_status)
        .order_by("-last_at", "pipeline_name", "step_name")[:GROUPS_MAX]
    )
    if not groups:
        return []
    last_run = StepRun.objects.filter(tx_id=OuterRef("pk")).order_by("-seq")
    rows = (
        base.only("id", "owner_id", "pipeline_name", "step_name", "status", "note", "updated_at", "completed_at")
        .annotate(
            rank=Window(RowNumber(), partition_by=[F("pipeline_name"), F("step_name")],
                        order_by=[F("completed_at").desc(), F("id").desc()]),
            run_error=Subquery(last_run.annotate(short=Left("error", ERROR_CHARS)).values("short")[:1]),
            run_note=Subquery(last_run.annotate(short=Left("note", ERROR_CHARS)).values("short")[:1]),
        )
        .filter(rank__lte=latest)
        .order_by("pipeline_name", "step_name", "rank")
    )
    latest_of = {}
    for tx in rows:
        tx.last_error = tx.run_error or tx.run_note or tx.note or ""
        # A traceback ends with the exception's own line: the one a table row has room for.
        tx.error_summary = next((line for line in reversed(tx.last_error.splitlines()) if line.strip()), "")
        latest_of.setdefault((tx.pipeline_name, tx.step_name), []).append(tx)
    for group in groups:
        group["statuses"] = {name: group.pop(f"n_{name}") for name in TX_FAILURE_VALUES}
        group["latest"] = latest_of.get((group["pipeline_name"], group["step_name"]), [])
        group["last_error"] = group["latest"][0].last_error if group["latest"] else ""
    return groups
