"""MONDAT's Webhooks page: deliveries dead first, filter by status, keyset paging; re-send one or every
dead delivery of the user's owners (operator and above)."""
import uuid
from datetime import UTC

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.views.generic import TemplateView

from engine import durations
from engine.errors import NotFound
from engine.limits import REASON_MAX
from engine.selectors.webhooks import (
    STATUS_ORDER,
    webhook_delivery_owner,
    webhook_delivery_page,
    webhook_status_counts,
)
from engine.services.webhooks import webhook_resend, webhooks_resend_dead
from monitoring.views.base import ConsoleMixin, ConsoleView

PAGE_SIZE = 50
STATUSES = tuple(str(status) for status in STATUS_ORDER)


def encode_cursor(delivery):
    created_at = delivery.created_at.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return f"{delivery.status}~{created_at}~{delivery.delivery_id}"


def decode_cursor(text):
    """(status, created_at, delivery_id) from a cursor, or None if it is not one."""
    try:
        status, created_at, delivery_id = text.split("~")
        cursor = (status, durations.parse_timestamp(created_at), uuid.UUID(delivery_id))
    except ValueError:  # BadDuration too: no zone, or past what a datetime holds
        return None
    return cursor if status in STATUSES else None


def _list_url(status):
    url = reverse("mondat:webhooks")
    return f"{url}?status={status}" if status in STATUSES else url


class WebhookListView(ConsoleMixin, TemplateView):
    """Webhook deliveries of the user's owners, dead ones first (then pending, then delivered), newest first."""

    template_name = "monitoring/webhook_list.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        status = self.request.GET.get("status", "")
        status = status if status in STATUSES else ""
        after = decode_cursor(self.request.GET.get("after", ""))
        deliveries, more = webhook_delivery_page(owners=self.scope.owners, status=status or None, after=after,
                                                 limit=PAGE_SIZE)
        context.update(
            deliveries=deliveries, status=status, statuses=STATUSES, paged=after is not None,
            next_cursor=encode_cursor(deliveries[-1]) if more else None,
            counts=webhook_status_counts(owners=self.scope.owners),
        )
        return context


class WebhookResendView(ConsoleView):
    """(Operator) Queue one delivery again; another owner's delivery is a 404 like a missing one."""

    http_method_names = ["post"]

    def post(self, request, delivery_id):
        try:
            owner = webhook_delivery_owner(delivery_id=delivery_id)
            if not self.scope.sees_owner(owner):
                raise NotFound("No such webhook delivery.")
            webhook_resend(delivery_id=delivery_id, owner=owner, actor=self.scope.actor,
                           reason=request.POST.get("reason", "")[:REASON_MAX])
        except NotFound as exc:
            raise Http404(str(exc)) from exc
        messages.success(request, f"Delivery {delivery_id} is queued again.")
        return redirect(_list_url(request.POST.get("status", "")))


class WebhookResendDeadView(ConsoleView):
    """(Operator) Queue again every dead delivery of the user's owners, once confirmed."""

    http_method_names = ["post"]

    def post(self, request):
        if request.POST.get("confirm") != "yes":
            messages.error(request, "Tick the confirmation to re-send the dead deliveries.")
            return redirect(_list_url("dead"))
        count = webhooks_resend_dead(owners=self.scope.owners, actor=self.scope.actor,
                                     reason=request.POST.get("reason", "")[:REASON_MAX])
        messages.success(request, f"{count} dead deliver{'y is' if count == 1 else 'ies are'} queued again.")
        return redirect(_list_url("pending"))
