"""The Transaction page's actions, one small POST view each: set or clear a switch, wake now, cancel,
retry, move the deadline, re-send a webhook delivery.

Each parses the form, calls the service the REST API calls (as the user, with the user's reason) and
redirects back to the page with a message; a typed engine error becomes the message, never a 500."""
import json

from django.contrib import messages
from django.shortcuts import redirect
from django.urls import reverse

from engine.errors import DatpError
from engine.services import switches, transactions, webhooks
from monitoring.views.action_helpers import parse_switch_value, reason_of
from monitoring.views.base import ConsoleView


class Refused(Exception):
    """The form itself is incomplete: nothing was done."""


class TransactionActionView(ConsoleView):
    """POST only: `act(tx, reason)` calls one service and returns the success message."""

    http_method_names = ["post"]

    def post(self, request, tx_id, **kwargs):
        tx = self.get_tx(tx_id)
        reason = reason_of(request)
        try:
            done = self.act(tx, reason)
        except Refused as exc:
            messages.error(request, str(exc))
        except DatpError as exc:
            messages.error(request, message_of(exc))
        else:
            messages.success(request, done)
        return redirect(reverse("mondat:transaction", args=[tx.pk]))

    def act(self, tx, reason):
        raise NotImplementedError

    def field(self, name):
        return self.request.POST.get(name, "").strip()

    def service_kwargs(self, tx, reason):
        return {"tx_id": tx.pk, "owner": tx.owner_id, "actor": self.scope.actor, "reason": reason}


def message_of(exc):
    fields = exc.extra.get("fields") if isinstance(exc.extra, dict) else None
    if fields:
        details = "; ".join(f"{name}: {' '.join(map(str, problems))}" for name, problems in fields.items())
        return f"{exc.message} ({details})"
    return exc.message


class TransactionSwitchView(TransactionActionView):
    """Set (`op=set`, a value) or clear (`op=clear`) a switch of the transaction."""

    def act(self, tx, reason):
        name = self.field("name")
        if not name:
            raise Refused("Give the name of the switch.")
        if self.field("op") == "clear":
            value = None
        else:
            text = self.field("value")
            if not text:
                raise Refused("Give a value for the switch (true, false, a number, a string or JSON).")
            value = parse_switch_value(text)
        result = switches.switch_set(name=name, value=value, channel="console", **self.service_kwargs(tx, reason))
        verb = "cleared" if value is None else f"set to {json.dumps(value)}"
        woke = "; the transaction was woken" if result["action"] == "woken" else ""
        if result["action"] == "unchanged":
            return f"Switch {name} already had that value: nothing changed."
        return f"Switch {name} {verb}{woke}."


class TransactionWakeView(TransactionActionView):
    def act(self, tx, reason):
        transactions.transaction_wake(**self.service_kwargs(tx, reason))
        return "Woken: the transaction is queued."


class TransactionCancelView(TransactionActionView):
    """Cancel needs a reason: without one nothing happens."""

    def act(self, tx, reason):
        if not reason:
            raise Refused("Give a reason to cancel the transaction: nothing was done.")
        done = transactions.transaction_cancel(**self.service_kwargs(tx, reason))
        if done.status == "running":
            return "Cancel requested: the transaction ends when its running step returns."
        return "Cancelled."


class TransactionRetryView(TransactionActionView):
    def act(self, tx, reason):
        transactions.transaction_retry(deadline=self.field("deadline") or None, **self.service_kwargs(tx, reason))
        return "Retried: the transaction is queued again."


class TransactionDeadlineView(TransactionActionView):
    """Move the deadline (`op=move`, an ISO 8601 duration from now or a timestamp) or clear it (`op=clear`)."""

    def act(self, tx, reason):
        if self.field("op") == "clear":
            deadline = None
        else:
            deadline = self.field("deadline")
            if not deadline:
                raise Refused("Give a deadline (an ISO 8601 duration such as PT1H, or a timestamp), or clear it.")
        done = transactions.transaction_set_deadline(deadline=deadline, **self.service_kwargs(tx, reason))
        if done.deadline_at is None:
            return "Deadline cleared."
        return f"Deadline moved to {done.deadline_at:%Y-%m-%d %H:%M:%S} UTC."


class TransactionWebhookResendView(TransactionActionView):
    """Queue one of the transaction's webhook deliveries again."""

    def act(self, tx, reason):
        webhooks.webhook_resend(delivery_id=self.kwargs["delivery_id"], owner=tx.owner_id, actor=self.scope.actor,
                                reason=reason)
        return "The webhook delivery is queued again."
