"""The Failures page: failed, internal-error, timed-out and aborted transactions of a time window,
grouped by type and step with the last error; retry one, or link to a bulk retry of a group's type."""
from django.contrib import messages
from django.urls import reverse
from django.views.generic import TemplateView

from engine import clock
from engine.errors import DatpError
from engine.selectors import iso
from engine.selectors.failures import DEFAULT_WINDOW, WINDOWS, failure_groups
from engine.services.transactions import transaction_retry
from engine.states import TX_FAILURE_VALUES
from monitoring.views.action_helpers import back, failed, reason_of, with_query
from monitoring.views.base import ConsoleMixin, ConsoleView

TEXT_MAX = 200
LATEST_PER_GROUP = 3


class FailureListView(ConsoleMixin, TemplateView):
    template_name = "monitoring/failures_list.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        params = self.request.GET
        window = params.get("window") if params.get("window") in WINDOWS else DEFAULT_WINDOW
        status = params.get("status") if params.get("status") in TX_FAILURE_VALUES else ""
        transaction_type = params.get("transaction_type", "").strip()[:TEXT_MAX]
        now = clock.now()
        since = now - WINDOWS[window]
        groups = failure_groups(owners=self.scope.owners, since=since, transaction_type=transaction_type,
                                status=status, latest=LATEST_PER_GROUP)
        statuses = status or ",".join(TX_FAILURE_VALUES)
        for group in groups:
            query = {"status": statuses, "transaction_type": group["pipeline_name"], "created_after": iso(since)}
            group["list_url"] = with_query(reverse("mondat:transactions"), **query)
            group["bulk_retry_url"] = with_query(reverse("mondat:bulk", args=["retry"]), **query)
        context.update(groups=groups, now=now, since=since, window=window, windows=list(WINDOWS),
                       status=status, statuses=TX_FAILURE_VALUES, transaction_type=transaction_type,
                       here=with_query(self.request.path, window=window, status=status,
                                       transaction_type=transaction_type))
        return context


class FailureRetryView(ConsoleView):
    """POST: run one failed transaction again from the step that ended it (operator+), with a reason."""

    def post(self, request, tx_id):
        tx = self.get_tx(tx_id)
        default = reverse("mondat:failures")
        try:
            transaction_retry(tx_id=tx.pk, actor=self.scope.actor, reason=reason_of(request), owner=tx.owner_id)
        except DatpError as error:
            return failed(request, error, default)
        messages.success(request, f"Queued {tx.pk} to run again.")
        return back(request, default)
