"""django-q2's ORM broker, waiting on LISTEN instead of a poll tick on PostgreSQL.

Enqueueing sends a NOTIFY on the same connection, so an idle cluster picks a task up in milliseconds
and costs almost nothing while idle. On SQLite it is the stock ORM broker with its poll.
"""
from datetime import timedelta

from django.utils import timezone
from django_q.brokers.orm import ORM
from django_q.conf import Conf

from engine import notices

IDLE_WAIT_SECONDS = 5.0  # a NOTIFY on every enqueue wakes it; this is only the safety net


class ListenBroker(ORM):
    _listener = None

    def enqueue(self, task):
        task_id = super().enqueue(task)
        if notices.is_postgres(Conf.ORM):
            notices.notify(notices.QUEUE_CHANNEL, self.list_key or Conf.CLUSTER_NAME)
        return task_id

    def dequeue(self):
        if not notices.is_postgres(Conf.ORM):
            return super().dequeue()
        tasks = self._take()
        if tasks:
            return tasks
        if self._listener is None:
            self._listener = notices.Listener([notices.QUEUE_CHANNEL], alias=Conf.ORM)
            tasks = self._take()  # anything enqueued before LISTEN took effect
            if tasks:
                return tasks
        self._listener.wait(IDLE_WAIT_SECONDS)
        return None

    def _take(self):
        now = timezone.now()
        taken = []
        for task in self.get_connection().filter(key=self.list_key, lock__lt=now)[: Conf.BULK]:
            locked = self.get_connection().filter(id=task.id, lock=task.lock).update(
                lock=now + timedelta(seconds=Conf.RETRY)
            )
            if locked:
                taken.append((task.pk, task.payload))
        return taken
