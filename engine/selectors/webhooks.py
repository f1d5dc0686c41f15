"""Reads behind MONDAT's Webhooks page: deliveries dead first, then pending, then delivered, each newest
first, paged by keyset; bounded counts by status; a delivery's owner for the re-send check."""
from engine.errors import NotFound
from engine.models import WebhookDelivery
from engine.selectors import in_owners
from engine.states import WebhookStatus

STATUS_ORDER = (WebhookStatus.DEAD, WebhookStatus.PENDING, WebhookStatus.DELIVERED)
# Counts stop here, so a page never counts a huge table of delivered rows.
COUNT_CAP = 10_000


def _scoped(owners):
    return in_owners(queryset=WebhookDelivery.objects.all(), owners=owners)


def webhook_delivery_page(*, owners, status=None, after=None, limit):
    """Return up to `limit` deliveries of `owners` (None: every owner) and whether more follow.

    `after` is the keyset (status, created_at, delivery_id) of the last row of the previous page. Each
    status is read with its own query, served by the (owner, status, -created_at) index."""
    statuses = [WebhookStatus(status)] if status else list(STATUS_ORDER)
    if after is not None:
        if after[0] not in statuses:
            return [], False
        statuses = statuses[statuses.index(after[0]):]
    rows = []
    for current in statuses:
        queryset = _scoped(owners).filter(status=current)
        if after is not None and current == after[0]:
            _, created_at, delivery_id = after
            queryset = queryset.filter(created_at__lte=created_at).exclude(
                created_at=created_at, delivery_id__gte=delivery_id)
        rows.extend(queryset.order_by("-created_at", "-delivery_id")[:limit + 1 - len(rows)])
        if len(rows) > limit:
            break
    return rows[:limit], len(rows) > limit


def webhook_status_counts(*, owners):
    """Return {status: count} over `owners`' deliveries, each count stopping at COUNT_CAP + 1."""
    return {str(status): _scoped(owners).filter(status=status)[:COUNT_CAP + 1].count() for status in STATUS_ORDER}


def webhook_delivery_owner(*, delivery_id):
    """Return the owner of the delivery `delivery_id`; NotFound if there is none."""
    owner = WebhookDelivery.objects.filter(pk=delivery_id).values_list("owner_id", flat=True).first()
    if owner is None:
        raise NotFound("No such webhook delivery.")
    return owner
