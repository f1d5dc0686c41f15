"""Cancel a transaction."""
from engine.management.commands._actions import ActionCommand
from engine.services.transactions import transaction_cancel


class Command(ActionCommand):
    help = "Cancel a transaction (a running one ends when its current step returns)."

    def act(self, *, tx_id, reason, actor, **options):
        tx = transaction_cancel(tx_id=tx_id, actor=actor, reason=reason)
        return f"{tx_id}: {tx.status}" + (" (cancel requested)" if tx.cancel_requested and tx.status == "running" else "")
