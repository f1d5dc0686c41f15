"""The Transaction page: header, why it is not moving, payloads, step runs, switches, callbacks, journal,
links and webhook deliveries; and the status block the page refreshes while the transaction is active."""
import json
from urllib.parse import urlencode

from django.urls import reverse
from django.views.generic import TemplateView

from engine import clock
from engine.selectors.fan_outs import children_filters, fan_out_group, fan_outs_latest
from engine.selectors.transaction_detail import transaction_detail
from engine.selectors.waiting import callback_url_of
from engine.selectors.why import humanize, humanize_seconds, relative, stamp, transaction_why
from engine.states import TX_ACTIVE_VALUES, TX_TERMINAL_VALUES, TxStatus
from monitoring.charts import fan_out_bar
from monitoring.journal_text import describe
from monitoring.views.base import ConsoleMixin

REFRESH_SECONDS = 5
FAN_OUTS_SHOWN = 10
# The children each count of a fan-out stands for, as the Transactions list's status filter (a fan-out counts
# every end but success as failed); "not yet started" items have no transaction to list.
COUNTED_STATUSES = {
    "running": ",".join(sorted(TX_ACTIVE_VALUES)),
    "succeeded": TxStatus.SUCCESS.value,
    "failed": ",".join(sorted(set(TX_TERMINAL_VALUES) - {TxStatus.SUCCESS.value})),
}


def pretty(value):
    """Indented JSON for a <pre> (the template escapes it)."""
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)


def compact(value):
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def duration_text(ms):
    if ms is None:
        return ""
    return f"{ms} ms" if ms < 1000 else humanize_seconds(ms / 1000)


def _int(value):
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


def _times(tx, now):
    """(label, stamp, relative) rows of the header."""
    rows = [("created", tx.created_at), ("updated", tx.updated_at), ("completed", tx.completed_at)]
    return [(label, stamp(moment), relative(moment, now=now)) for label, moment in rows if moment is not None]


def _deadline(tx, now):
    if tx.deadline_at is None:
        return None
    left = tx.deadline_at - now
    if tx.is_finished:
        text = ""
    elif left.total_seconds() > 0:
        text = f"{humanize(left)} left"
    else:
        text = f"passed {humanize(-left)} ago"
    return {"stamp": stamp(tx.deadline_at), "left": text, "passed": left.total_seconds() <= 0}


def _log_line(line):
    if not isinstance(line, dict):
        return {"at": "", "level": "", "message": str(line)}
    return {"at": line.get("at", ""), "level": line.get("level", ""), "message": line.get("message", "")}


def _step_rows(runs, now):
    return [{
        "run": run,
        "started": stamp(run.started_at),
        "duration": duration_text(run.duration_ms) if run.ended_at else f"running for {humanize(now - run.started_at)}",
        "logs": [_log_line(line) for line in run.logs or []],
    } for run in runs]


def _children_url(tx, fan, **more):
    """The Transactions list of the children of `fan`, filtered by `more` (status=...)."""
    return f"{reverse('mondat:transactions')}?{urlencode(children_filters(tx_id=tx.pk, fan_out_id=fan.pk, **more))}"


def _fan_outs(tx):
    """The progress of the newest fan-outs of `tx` (newest first): counts, bar, and links to its children."""
    fans, more = fan_outs_latest(tx_id=tx.pk, limit=FAN_OUTS_SHOWN)
    rows = []
    for fan in fans:
        group = fan_out_group(fan=fan)
        counts = [{"name": name, "label": label, "count": f"{getattr(group, name):,}",
                   "url": _children_url(tx, fan, status=COUNTED_STATUSES[name]) if name in COUNTED_STATUSES else None}
                  for name, label in (("started", "started"), ("running", "running"), ("succeeded", "succeeded"),
                                      ("failed", "failed"), ("not_started", "not yet started"))]
        rows.append({"fan": fan, "group": group, "summary": group.describe(), "total": f"{group.total:,}",
                     "bar": fan_out_bar(group), "counts": counts, "children_url": _children_url(tx, fan)})
    return {"rows": rows, "more": more}


class TransactionStatusMixin:
    """What the header's status block needs: the Why, its fan-outs' progress, and whether the page should keep
    refreshing."""

    def status_context(self, tx, why, now):
        return {"tx": tx, "why": why, "now": now, "refresh": not tx.is_finished, "refresh_seconds": REFRESH_SECONDS,
                "times": _times(tx, now), "deadline": _deadline(tx, now), "fan_outs": _fan_outs(tx)}


class TransactionDetailView(ConsoleMixin, TransactionStatusMixin, TemplateView):
    """GET /mondat/transactions/<tx_id>/: everything about one transaction, with the operator's actions."""

    template_name = "monitoring/transaction_detail.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        now = clock.now()
        tx = self.get_tx(kwargs["tx_id"])
        query = self.request.GET
        detail = transaction_detail(tx=tx, now=now, steps_before=_int(query.get("steps_before")),
                                    journal_before=_int(query.get("journal_before")),
                                    switches_before=_int(query.get("switches_before")))
        context.update(self.status_context(tx, detail.why, now))
        context.update({
            "detail": detail,
            "payloads": [(name, pretty(value)) for name, value in (
                ("input", tx.input), ("output", tx.output), ("metadata", tx.metadata), ("progress", tx.progress))],
            "step_rows": _step_rows(detail.step_runs.rows, now),
            "journal_rows": [(entry, stamp(entry.at), compact(entry.data), describe(entry))
                             for entry in detail.journal.rows],
            "switch_rows": [(s, compact(s.value) if s.set_at else "not set", stamp(s.set_at)) for s in detail.switches],
            "switch_history": [(entry, stamp(entry.at), compact(entry.data.get("value")))
                               for entry in detail.switch_history.rows],
            "callback_rows": [{"callback": cb, "data": pretty(cb.data), "timeout": stamp(cb.timeout_at),
                               "updates": [(u, stamp(u.at), compact(u.data)) for u in cb.recent_updates],
                               # The URL carries the token: only for someone who may act (not a viewer).
                               "url": callback_url_of(callback=cb, absolute=self.request.build_absolute_uri)
                               if self.scope.allows("operator") else None}
                              for cb in detail.callbacks],
            "delivery_rows": [(d, stamp(d.created_at), stamp(d.next_attempt_at), stamp(d.delivered_at))
                              for d in detail.deliveries],
        })
        return context


class TransactionStatusView(ConsoleMixin, TransactionStatusMixin, TemplateView):
    """GET /mondat/transactions/<tx_id>/status: the status block alone, for htmx to swap in.

    When the status differs from the one the page shows (`?was=`), htmx reloads the whole page."""

    template_name = "monitoring/_transaction_status.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        now = clock.now()
        tx = self.get_tx(kwargs["tx_id"])
        context.update(self.status_context(tx, transaction_why(tx=tx, now=now), now))
        return context

    def render_to_response(self, context, **response_kwargs):
        response = super().render_to_response(context, **response_kwargs)
        was = self.request.GET.get("was")
        if was and was != context["tx"].status:
            response["HX-Refresh"] = "true"
        return response
