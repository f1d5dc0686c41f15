"""Wake a sleeping transaction now."""
from engine.management.commands._actions import ActionCommand
from engine.services.transactions import transaction_wake


class Command(ActionCommand):
    help = "Wake a sleeping transaction now, as if its timer had fired."

    def act(self, *, tx_id, reason, actor, **options):
        return f"{tx_id}: {transaction_wake(tx_id=tx_id, actor=actor, reason=reason).status}"
