"""The webhook outbox: deliveries are written with the move that causes them and sent by the nodes."""
from engine.models import WebhookDelivery


def webhook_enqueue(tx, *, event, now):
    """Queue a delivery of `event` for `tx` if it was started with a webhook URL."""
    if not tx.webhook_url:
        return None
    if event == "transaction.progress" and not tx.webhook_progress:
        return None
    from engine.selectors import transaction_as_dict

    delivery = WebhookDelivery(tx_id=tx.pk, owner_id=tx.owner_id, event=event, url=tx.webhook_url,
                               payload={}, created_at=now, next_attempt_at=now)
    delivery.payload = {
        "event": event,
        "delivery_id": str(delivery.delivery_id),
        "transaction": transaction_as_dict(tx),
    }
    delivery.save(force_insert=True)
    return delivery
