"""Set a switch of a transaction: datp_set_switch TX_ID NAME VALUE (VALUE is JSON: true, 3, "x", null)."""
from engine.management.commands._actions import ActionCommand, parse_value
from engine.services.switches import switch_set


class Command(ActionCommand):
    help = "Set a transaction's switch; wakes the step waiting on it."

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("name")
        parser.add_argument("value")

    def act(self, *, tx_id, name, value, reason, actor, **options):
        result = switch_set(tx_id=tx_id, name=name, value=parse_value(value), actor=actor, channel="cli",
                            reason=reason)
        return f"{name} = {result['switch']['value']!r}: {result['action']}"
