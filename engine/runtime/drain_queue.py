"""What a node knows about its group's drain tasks in django-q2's queue, whichever broker holds it.

- ORM broker (the default): a task row waits unlocked, and a taken one stays locked until acknowledged,
  so the table tells both how many drains wait and how many run, and how long one has waited.
- Redis broker (`DATP_BROKER=redis`): a list per group; a cluster pops a task for good, so only the
  waiting ones are counted (the running ones are estimated from the group's running transactions), and
  a frozen cluster shows as the same task at the head of the list for too long.

A drain can also wait because every worker is busy and django-q2's pusher has prefetched as many as its
queue holds (a loaded machine): a cluster whose workers still renew the lease of a running step is
busy, not frozen; and one whose workers wait on standby (PostgreSQL) claims queued work at once, so a
cluster counts as frozen only when a transaction, too, has waited unclaimed for as long.
"""
import time
from datetime import timedelta

from django_q.conf import Conf
from django_q.models import OrmQ

from engine import conf
from engine.models import Transaction
from engine.states import TxStatus

try:
    from redis.exceptions import RedisError

    BROKER_ERRORS = (RedisError,)
except ImportError:  # redis is needed only with DATP_BROKER=redis
    BROKER_ERRORS = ()


def uses_redis():
    return conf.get("BROKER") == "redis"


_brokers = {}


def _redis(group):
    """The group's Redis broker, one per process (its client reconnects by itself after a restart)."""
    if group not in _brokers:
        # Imported only with DATP_BROKER=redis: it needs the redis package, which is not installed otherwise.
        from django_q.brokers.redis_broker import Redis

        _brokers[group] = Redis(list_key=group)
    return _brokers[group]


def counts(group, *, now, workers):
    """(waiting, running) drain tasks of `group`."""
    if uses_redis():
        waiting = _redis(group).queue_size()
        running = Transaction.objects.filter(node_group_id=group, status=TxStatus.RUNNING)[:workers].count()
        return waiting, running
    recent = now + timedelta(seconds=Conf.RETRY - conf.get("DRAIN_SECONDS") - 60)
    waiting = OrmQ.objects.filter(key=group, lock__lte=now).count()
    running = OrmQ.objects.filter(key=group, lock__gt=recent).count()
    return waiting, running


class FrozenWatch:
    """Tell whether a node's cluster is frozen: a drain task of the group has waited unpicked for `seconds`
    and none of the node's workers was seen holding a live lease for as long."""

    def __init__(self):
        self._head, self._head_since = None, 0.0
        self._busy_at = 0.0

    def frozen(self, group, node_id, *, now, seconds):
        if workers_busy(node_id, now=now):
            self._busy_at = time.monotonic()
            return False
        return (time.monotonic() - self._busy_at >= seconds and self.unpicked_for(group, now=now, seconds=seconds)
                and work_waited(group, now=now, seconds=seconds))

    def unpicked_for(self, group, *, now, seconds):
        if not uses_redis():
            return OrmQ.objects.filter(key=group, lock__lte=now - timedelta(seconds=seconds)).exists()
        broker = _redis(group)
        head = broker.connection.lindex(broker.list_key, 0)
        if head is None or head != self._head:
            self._head, self._head_since = head, time.monotonic()
            return False
        return time.monotonic() - self._head_since >= seconds


def work_waited(group, *, now, seconds):
    """Whether a transaction of the group has waited in the queue for `seconds`: workers on standby claim
    new work within milliseconds, so a drain left unpicked behind them is no sign of a frozen cluster."""
    return Transaction.objects.filter(node_group_id=group, status=TxStatus.QUEUED,
                                      queued_at__lte=now - timedelta(seconds=seconds)).exists()


def workers_busy(node_id, *, now):
    """Whether a worker of the node holds a live lease (its heartbeat runs): the cluster is working."""
    return Transaction.objects.filter(status=TxStatus.RUNNING, lease_expires_at__gt=now,
                                      node__startswith=f"{node_id}/").exists()
