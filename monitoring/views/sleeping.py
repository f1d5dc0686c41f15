"""The Sleeping page: sleeping transactions by next wake-up, filtered, keyset-paged; wake one or link to
a bulk wake of the filtered set."""

from django.contrib import messages
from django.urls import reverse
from django.views.generic import TemplateView

from engine import clock, durations, keyset
from engine.errors import DatpError
from engine.selectors import iso, owner_names
from engine.selectors.sleeping import sleeper_page
from engine.services.transactions import transaction_wake
from engine.states import WaitReason
from monitoring.views.action_helpers import back, failed, reason_of, with_query
from monitoring.views.base import ConsoleMixin, ConsoleView

PAGE_SIZE = 50
TEXT_MAX = 200


def encode_cursor(sleeper):
    return keyset.pack([iso(sleeper.wake_at), sleeper.tx_id])


def decode_cursor(raw):
    """The keyset position (wake_at or None, tx_id) a cursor names; None for a missing or bad cursor."""
    if not raw:
        return None
    try:
        wake_at, tx_id = keyset.unpack(raw)
        if not isinstance(tx_id, str):
            return None
        return (durations.parse_timestamp(wake_at) if wake_at is not None else None), tx_id
    except (ValueError, TypeError, durations.BadDuration):
        return None


def sleeping_filters(params):
    """The page's filters from its query string; unknown values are dropped."""
    reason = params.get("reason", "")
    return {
        "reason": reason if reason in WaitReason.values else "",
        "switch": params.get("switch", "").strip()[:TEXT_MAX],
        "transaction_type": params.get("transaction_type", "").strip()[:TEXT_MAX],
        "owner": params.get("owner", "").strip()[:TEXT_MAX],
    }


class SleepingListView(ConsoleMixin, TemplateView):
    template_name = "monitoring/sleeping_list.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        filters = sleeping_filters(self.request.GET)
        rows = sleeper_page(owners=self.scope.owners, after=decode_cursor(self.request.GET.get("cursor")),
                            limit=PAGE_SIZE + 1, **filters)
        more = len(rows) > PAGE_SIZE
        rows = rows[:PAGE_SIZE]
        query = {name: value for name, value in filters.items() if value}
        context.update(
            rows=rows,
            now=clock.now(),
            filters=filters,
            reasons=WaitReason.values,
            owners=owner_names(owners=self.scope.owners),
            next_url=with_query(self.request.path, **query, cursor=encode_cursor(rows[-1])) if more else None,
            first_url=with_query(self.request.path, **query) if self.request.GET.get("cursor") else None,
            here=with_query(self.request.path, **query),
            bulk_wake_url=with_query(
                reverse("mondat:bulk", args=["wake"]), status="sleeping", waiting_reason=filters["reason"],
                switch=filters["switch"], transaction_type=filters["transaction_type"], owner=filters["owner"],
            ),
        )
        return context


class SleeperWakeView(ConsoleView):
    """POST: wake one sleeping transaction now (operator+), with the user's reason."""

    def post(self, request, tx_id):
        tx = self.get_tx(tx_id)
        default = reverse("mondat:sleeping")
        try:
            transaction_wake(tx_id=tx.pk, actor=self.scope.actor, reason=reason_of(request), owner=tx.owner_id)
        except DatpError as error:
            return failed(request, error, default)
        messages.success(request, f"Woke {tx.pk}.")
        return back(request, default)
