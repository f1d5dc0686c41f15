"""Nodes register themselves, beat, announce that they are stopping, and leave."""
import os
import socket
from datetime import timedelta

from django.db.models import Sum

from engine import clock, conf, notices
from engine.models import Node
from engine.services.pipelines import node_group_ensure


def node_register(*, group, workers):
    now = clock.now()
    node_group_ensure(name=group, now=now)
    node_id = f"{socket.gethostname()}:{os.getpid()}"
    Node.objects.update_or_create(
        node_id=node_id,
        defaults={"group_id": group, "host": socket.gethostname(), "pid": os.getpid(), "workers": workers,
                  "started_at": now, "last_seen_at": now, "stopping": False},
    )
    return node_id


def node_beat(*, node_id):
    return Node.objects.filter(pk=node_id).update(last_seen_at=clock.now())


def node_stopping(*, node_id):
    """Mark the node stopping; its workers waiting for work on PostgreSQL hear it at once."""
    Node.objects.filter(pk=node_id).update(stopping=True, last_seen_at=clock.now())
    notices.notify_stopping()


def node_is_stopping(*, node_id):
    return Node.objects.filter(pk=node_id, stopping=True).exists()


def node_remove(*, node_id):
    Node.objects.filter(pk=node_id).delete()


def group_workers(*, group):
    """Count the workers of the group's live nodes that are not stopping."""
    seen_after = clock.now() - timedelta(seconds=conf.get("NODE_GONE_SECONDS"))
    total = Node.objects.filter(group_id=group, stopping=False, last_seen_at__gte=seen_after).aggregate(
        total=Sum("workers"))["total"]
    return total or 0
