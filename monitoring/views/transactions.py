"""The Transactions page: every filter of the list, newest first, keyset pages, the table body refreshed by htmx."""
from django.views.generic import TemplateView

from engine.selectors import transaction_list
from engine.states import BulkAction, TxStatus, WaitReason
from monitoring.transaction_filters import encode_cursor, filter_form, filter_query
from monitoring.views.base import ConsoleMixin

BULK_LABELS = {BulkAction.WAKE: "Wake…", BulkAction.RETRY: "Retry…", BulkAction.CANCEL: "Cancel…",
               BulkAction.SET_SWITCH: "Set a switch…", BulkAction.CLEAR_SWITCH: "Clear a switch…",
               BulkAction.MOVE_VERSION: "Move to another version…"}
# Offered only on a list filtered to one transaction type (a move is between two versions of one pipeline).
ONE_TYPE_ACTIONS = frozenset({BulkAction.MOVE_VERSION})


class TransactionListView(ConsoleMixin, TemplateView):
    """GET /mondat/transactions/: a page of the transactions in the user's scope that the filters match.

    An htmx request (the 5-second refresh) gets only the table body."""

    template_name = "monitoring/transaction_list.html"
    rows_template_name = "monitoring/_transaction_rows.html"

    def get_template_names(self):
        if self.request.headers.get("HX-Request"):
            return [self.rows_template_name]
        return [self.template_name]

    def get(self, request, *args, **kwargs):
        context = self.get_context_data(**kwargs)
        return self.render_to_response(context, status=200 if context["form"].is_valid() else 400)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        query = self.request.GET
        form = filter_form(query)
        rows, next_query = [], None
        if form.is_valid():
            before, limit = form.page()
            found = transaction_list(owners=self.scope.owners, before=before, limit=limit + 1, with_sleeper=True,
                                     payload=False, **form.filters())
            rows = [{"tx": tx, "sleeper": getattr(tx, "sleeper", None)} for tx in found[:limit]]
            if len(found) > limit:
                extra = {"limit": limit} if query.get("limit") else {}
                next_query = filter_query(query, cursor=encode_cursor(found[limit - 1]), **extra)
        one_type = form.is_valid() and bool(form.cleaned_data["transaction_type"])
        context.update(
            form=form,
            rows=rows,
            next_query=next_query,
            first_query=filter_query(query) if query.get("cursor") else None,
            bulk_query=filter_query(query),
            bulk_actions=[(action, label) for action, label in BULK_LABELS.items()
                          if action not in ONE_TYPE_ACTIONS or one_type],
            statuses=TxStatus.values,
            chosen_statuses=form.data.getlist("status"),
            reasons=WaitReason.values,
            owner_choices=self.scope.owners,
        )
        return context
