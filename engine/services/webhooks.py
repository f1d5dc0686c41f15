"""The webhook outbox: deliveries are written with the move that causes them and sent by the nodes.

A delivery is claimed (SKIP LOCKED on PostgreSQL, a conditional update elsewhere) by pushing its
`next_attempt_at` past the attempt's longest possible run and counting the attempt; it is then sent
with no database transaction open, and its result written back only if the claim still holds.
"""
import hashlib
import hmac
import http.client
import json
import logging
from datetime import timedelta

from django.db import connection, transaction

from engine import clock, conf, netguard, notices
from engine.errors import InvalidRequest, NotFound
from engine.models import JournalEntry, Owner, WebhookDelivery
from engine.selectors import transaction_as_dict
from engine.services.common import journal
from engine.states import WebhookStatus

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 12
MAX_BACKOFF_SECONDS = 600
SIGNATURE_HEADER = "X-DATP-Signature"


FINISHED_EVENT = "transaction.finished"


def webhook_finished_quiet(*, tx):
    """Whether `tx`'s finish must not send its webhook: its last rewind said so (it had sent a finished event
    before and was not asked to send it again: engine.services.rewind)."""
    if not tx.webhook_url:
        return False
    data = JournalEntry.objects.filter(tx_id=tx.pk, kind="rewind").order_by("-id").values_list(
        "data", flat=True).first()
    return bool(data) and data.get("webhook") == "quiet"


def webhook_enqueue(*, tx, event, now):
    """Queue a delivery of `event` for `tx` if it was started with a webhook URL."""
    if not tx.webhook_url:
        return None
    if event == "transaction.progress" and not tx.webhook_progress:
        return None
    delivery = WebhookDelivery(tx_id=tx.pk, owner_id=tx.owner_id, event=event, url=tx.webhook_url,
                               payload={}, created_at=now, next_attempt_at=now)
    delivery.payload = {
        "event": event,
        "delivery_id": str(delivery.delivery_id),
        "transaction": transaction_as_dict(tx=tx),
    }
    delivery.save(force_insert=True)
    notices.notify_webhook_due()  # the nodes' webhook threads wake at the commit
    return delivery


def webhook_url_check_text(*, url):
    """Raise InvalidRequest (field `webhook`) if `url` is refused by its text alone."""
    try:
        netguard.check_url_text(url, allow_private=bool(conf.get("WEBHOOK_ALLOW_PRIVATE_NETWORKS")))
    except netguard.TextRefused as exc:
        raise InvalidRequest("The request has invalid fields.",
                             fields={"webhook": [f"The webhook URL is not allowed: {exc}."]}) from None


def webhook_sign(*, body, secret, timestamp):
    """Compute the X-DATP-Signature value for `body` (bytes) sent at `timestamp` (unix seconds)."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def backoff_seconds(attempts):
    """Return the wait after the `attempts`-th failed attempt: 1 s, 2 s, 4 s ... at most 10 min."""
    return min(2 ** (attempts - 1), MAX_BACKOFF_SECONDS)


def _timeout_seconds():
    return float(conf.get("WEBHOOK_TIMEOUT_SECONDS"))


def _claim(now, limit):
    """Claim up to `limit` due deliveries; return them with `attempts` already counting this attempt."""
    # Long enough for the attempt and every redirect to time out, so no other node sends it meanwhile.
    held_until = now + timedelta(seconds=_timeout_seconds() * 2 * (netguard.MAX_REDIRECTS + 1) + 30)
    due = WebhookDelivery.objects.filter(status=WebhookStatus.PENDING, next_attempt_at__lte=now) \
        .order_by("next_attempt_at")
    claimed = []
    if connection.features.has_select_for_update_skip_locked:
        with transaction.atomic():
            for delivery in due.select_for_update(skip_locked=True)[:limit]:
                delivery.attempts += 1
                delivery.next_attempt_at = held_until
                delivery.save(update_fields=["attempts", "next_attempt_at"])
                claimed.append(delivery)
        return claimed
    for delivery in due[:limit]:
        won = WebhookDelivery.objects.filter(
            pk=delivery.pk, status=WebhookStatus.PENDING, attempts=delivery.attempts,
            next_attempt_at=delivery.next_attempt_at,
        ).update(attempts=delivery.attempts + 1, next_attempt_at=held_until)
        if won:
            delivery.attempts += 1
            delivery.next_attempt_at = held_until
            claimed.append(delivery)
    return claimed


def _send(delivery, now):
    """Send one claimed delivery; return (delivered, error, final) without touching the database."""
    secret = Owner.objects.filter(pk=delivery.owner_id).values_list("webhook_secret", flat=True).first() or ""
    payload = delivery.payload
    document = {"event": payload.get("event", delivery.event), "delivery_id": str(delivery.delivery_id),
                "sent_at": now.isoformat().replace("+00:00", "Z"), "transaction": payload.get("transaction")}
    body = json.dumps(document, separators=(",", ":")).encode()
    headers = {"Content-Type": "application/json", "User-Agent": "DATP-Webhooks/1",
               SIGNATURE_HEADER: webhook_sign(body=body, secret=secret, timestamp=int(now.timestamp()))}
    try:
        response = netguard.post(delivery.url, body, headers, timeout=_timeout_seconds(),
                                 allow_private=bool(conf.get("WEBHOOK_ALLOW_PRIVATE_NETWORKS")))
    except netguard.TextRefused as exc:
        return False, f"URL refused: {exc}", True
    except netguard.Refused as exc:
        return False, str(exc), False
    except TimeoutError:
        return False, f"no answer within {_timeout_seconds():g} s", False
    except (OSError, http.client.HTTPException, ValueError) as exc:
        return False, f"{type(exc).__name__}: {exc}", False
    if 200 <= response.status < 300:
        return True, "", False
    return False, f"HTTP {response.status} from {response.url}", False


def _record(delivery, now, delivered, error, final):
    """Write the attempt's result, if the claim still holds (a resend meanwhile wins)."""
    changes = {"last_error": error[:2000]}
    if delivered:
        changes.update(status=WebhookStatus.DELIVERED, delivered_at=now, next_attempt_at=None)
    elif final or delivery.attempts >= MAX_ATTEMPTS:
        changes.update(status=WebhookStatus.DEAD, next_attempt_at=None)
    else:
        changes.update(next_attempt_at=now + timedelta(seconds=backoff_seconds(delivery.attempts)))
    WebhookDelivery.objects.filter(
        pk=delivery.pk, status=WebhookStatus.PENDING, attempts=delivery.attempts,
        next_attempt_at=delivery.next_attempt_at,
    ).update(**changes)
    return changes.get("status", WebhookStatus.PENDING)


def webhooks_deliver_due(*, now=None, limit=50):
    """Send the deliveries due at `now`, one attempt each; return {"delivered": n, "failed": n, "dead": n}.

    Call it outside any database transaction: none is held while a receiver is being called."""
    now = now or clock.now()
    counts = {"delivered": 0, "failed": 0, "dead": 0}
    for delivery in _claim(now, limit):
        delivered, error, final = _send(delivery, now)
        outcome = _record(delivery, max(now, clock.now()), delivered, error, final)
        if not delivered:
            logger.info("webhook %s attempt %s failed: %s", delivery.delivery_id, delivery.attempts, error)
        key = {WebhookStatus.DELIVERED: "delivered", WebhookStatus.DEAD: "dead"}.get(outcome, "failed")
        counts[key] += 1
    return counts


def webhook_resend(*, delivery_id, owner=None, actor, reason=""):
    """Queue a dead or delivered delivery again: pending, no attempts, due now."""
    now = clock.now()
    queryset = WebhookDelivery.objects.filter(pk=delivery_id)
    if owner is not None:
        queryset = queryset.filter(owner_id=owner)
    with transaction.atomic():
        delivery = queryset.select_for_update().first()
        if delivery is None:
            raise NotFound("No such webhook delivery.")
        previous = delivery.status
        delivery.status = WebhookStatus.PENDING
        delivery.attempts = 0
        delivery.next_attempt_at = now
        delivery.last_error = ""
        delivery.delivered_at = None
        delivery.save(update_fields=["status", "attempts", "next_attempt_at", "last_error", "delivered_at"])
        journal(tx_id=delivery.tx_id, kind="webhook_resent", actor=actor, at=now, delivery_id=str(delivery.delivery_id),
                event=delivery.event, previous=previous, reason=reason)
    return delivery


def webhooks_resend_dead(*, owners, actor, reason="", limit=5000, batch_size=500):
    """Queue again up to `limit` dead deliveries of `owners` (None: every owner), in batches, each with its
    own journal entry; return how many."""
    now = clock.now()
    done = 0
    while done < limit:
        with transaction.atomic():
            queryset = WebhookDelivery.objects.filter(status=WebhookStatus.DEAD)
            if owners is not None:
                queryset = queryset.filter(owner_id__in=owners)
            batch = list(queryset.select_for_update().order_by("created_at")
                         .values_list("delivery_id", "tx_id", "event")[:min(batch_size, limit - done)])
            if not batch:
                break
            WebhookDelivery.objects.filter(pk__in=[row[0] for row in batch], status=WebhookStatus.DEAD).update(
                status=WebhookStatus.PENDING, attempts=0, next_attempt_at=now, last_error="", delivered_at=None)
            JournalEntry.objects.bulk_create([
                JournalEntry(tx_id=tx_id, kind="webhook_resent", actor=actor, at=now,
                             data={"delivery_id": str(delivery_id), "event": event, "previous": "dead",
                                   "reason": reason})
                for delivery_id, tx_id, event in batch
            ])
        done += len(batch)
    return done
