"""The node's view of its group's drain tasks: counted in the broker that holds them (django-q2's ORM
table, or a Redis list), so a node on Redis tops drains up to its workers and still sees a frozen cluster."""
import shutil
import time
from datetime import timedelta

import pytest
from django_q.conf import Conf
from django_q.models import OrmQ

from engine import clock
from engine.models import Transaction
from engine.runtime import drain_queue
from tests.chaos.harness import RedisServer


@pytest.fixture
def redis_broker(settings, tmp_path, monkeypatch):
    if shutil.which("redis-server") is None:
        pytest.fail("needs redis-server: apt-get install redis-server (.ci/run installs it)")
    server = RedisServer(tmp_path)
    settings.DATP = {**settings.DATP, "BROKER": "redis"}
    monkeypatch.setattr(Conf, "REDIS", server.url)
    monkeypatch.setattr(drain_queue, "_brokers", {})
    yield server
    server.close()


def _enqueue(group, payload):
    drain_queue._redis(group).enqueue(payload)


@pytest.mark.django_db
def test_on_redis_the_waiting_drains_are_the_length_of_the_groups_list(redis_broker):
    _enqueue("master", "one")
    _enqueue("master", "two")
    _enqueue("beta", "three")
    assert drain_queue.counts("master", now=clock.now(), workers=2) == (2, 0)
    assert drain_queue.counts("gamma", now=clock.now(), workers=2) == (0, 0)


@pytest.mark.django_db
def test_on_redis_a_drain_left_at_the_head_of_the_list_is_seen_as_unpicked_only_after_the_limit(redis_broker):
    watch = drain_queue.FrozenWatch()
    assert not watch.unpicked_for("master", now=clock.now(), seconds=0.2)
    _enqueue("master", "stuck")
    assert not watch.unpicked_for("master", now=clock.now(), seconds=0.2)
    time.sleep(0.3)
    assert watch.unpicked_for("master", now=clock.now(), seconds=0.2)
    drain_queue._redis("master").connection.lpop(drain_queue._redis("master").list_key)
    _enqueue("master", "fresh")
    assert not watch.unpicked_for("master", now=clock.now(), seconds=0.2)


@pytest.mark.django_db
def test_a_redis_broker_that_is_down_raises_an_error_the_node_loop_catches(redis_broker):
    redis_broker.kill()
    with pytest.raises(drain_queue.BROKER_ERRORS):
        drain_queue.counts("master", now=clock.now(), workers=2)


@pytest.mark.django_db
def test_on_the_orm_broker_waiting_and_running_drains_are_told_apart_by_their_lock():
    now = clock.now()
    OrmQ.objects.create(key="master", payload="waiting", lock=now - timedelta(seconds=1))
    OrmQ.objects.create(key="master", payload="taken", lock=now + timedelta(seconds=Conf.RETRY))
    OrmQ.objects.create(key="beta", payload="elsewhere", lock=now - timedelta(seconds=1))
    assert drain_queue.counts("master", now=now, workers=2) == (1, 1)
    watch = drain_queue.FrozenWatch()
    assert not watch.unpicked_for("master", now=now, seconds=5)
    assert watch.unpicked_for("master", now=now + timedelta(seconds=6), seconds=5)


def test_a_cluster_whose_worker_holds_a_live_lease_is_busy_not_frozen_though_a_drain_waits(harness):
    now = clock.now()
    OrmQ.objects.create(key="master", payload="waiting", lock=now - timedelta(seconds=60))
    harness.load({"name": "one", "steps": [{"name": "a", "type": "util/echo"}]})
    tx_id = harness.start("one", {})
    Transaction.objects.filter(pk=tx_id).update(status="running", node="vm:1/42",
                                                lease_expires_at=now + timedelta(seconds=30))
    waiting = harness.start("one", {})  # work that has waited as long as the drain
    Transaction.objects.filter(pk=waiting).update(queued_at=now - timedelta(seconds=60))
    watch = drain_queue.FrozenWatch()
    assert not watch.frozen("master", "vm:1", now=now, seconds=5)
    assert drain_queue.FrozenWatch().frozen("master", "vm:2", now=now, seconds=5)
    Transaction.objects.filter(pk=tx_id).update(lease_expires_at=now - timedelta(seconds=1))
    assert not watch.frozen("master", "vm:1", now=now, seconds=5)  # seen busy a moment ago
    watch._busy_at -= 6
    assert watch.frozen("master", "vm:1", now=now, seconds=5)


def test_a_drain_left_behind_workers_on_standby_is_no_frozen_cluster_while_no_work_waits(harness):
    now = clock.now()
    OrmQ.objects.create(key="master", payload="waiting", lock=now - timedelta(seconds=60))
    harness.load({"name": "one", "steps": [{"name": "a", "type": "util/echo"}]})
    watch = drain_queue.FrozenWatch()
    watch._busy_at -= 60
    assert not watch.frozen("master", "vm:1", now=now, seconds=5)  # nothing queued: standby workers claim at once
    fresh = harness.start("one", {})
    assert not watch.frozen("master", "vm:1", now=now, seconds=5)  # queued just now
    Transaction.objects.filter(pk=fresh).update(queued_at=now - timedelta(seconds=6))
    assert watch.frozen("master", "vm:1", now=now, seconds=5)
