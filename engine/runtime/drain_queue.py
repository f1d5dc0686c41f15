"""What a node knows about its group's drain tasks in django-q2's queue, whichever broker holds it.

- ORM broker (the default): a task row waits unlocked, and a taken one stays locked until acknowledged,
  so the table tells both how many drains wait and how many run, and how long one has waited.
- Redis broker (`DATP_BROKER=redis`): a list per group; a cluster pops a task for good, so only the
  waiting ones are counted (the running ones are estimated from the group's running transactions), and
  a frozen cluster shows as the same task at the head of the list for too long.
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
    """Tell whether a drain task of the group has waited unpicked for `seconds`."""

    def __init__(self):
        self._head, self._head_since = None, 0.0

    def unpicked_for(self, group, *, now, seconds):
        if not uses_redis():
            return OrmQ.objects.filter(key=group, lock__lte=now - timedelta(seconds=seconds)).exists()
        broker = _redis(group)
        head = broker.connection.lindex(broker.list_key, 0)
        if head is None or head != self._head:
            self._head, self._head_since = head, time.monotonic()
            return False
        return time.monotonic() - self._head_since >= seconds
