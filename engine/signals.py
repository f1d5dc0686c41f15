"""The engine's Django signals."""
import django.dispatch

# Sent after the commit that finishes a transaction, on the process that finished it.
transaction_finished = django.dispatch.Signal()


def send_finished(*, tx_id, owner, status):
    transaction_finished.send(sender="engine", tx_id=tx_id, owner=owner, status=status)
