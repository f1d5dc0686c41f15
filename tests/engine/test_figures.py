"""The figures the nodes keep: status counts and per-minute starts and finishes, refreshed cheaply."""
from datetime import timedelta

import pytest
from django.db.models import Sum

from engine.models import FigureMark, MinuteFigure, StatusFigure
from engine.services.figures import KEEP_MINUTES, figures_refresh
from engine.services.owners import owner_ensure
from engine.services.transactions import transaction_start
from tests.api.conftest import PIPELINES


@pytest.fixture
def world(harness):
    harness.load(*PIPELINES)
    owner_ensure(name="other")
    return harness


def counts(owner="test"):
    rows = StatusFigure.objects.filter(owner_id=owner).values("status").annotate(n=Sum("count"))
    return {row["status"]: row["n"] for row in rows if row["n"]}


def minutes(owner="test"):
    return {(row.minute, row.pipeline_name): row for row in MinuteFigure.objects.filter(owner_id=owner)}


def start_other(kind="echo"):
    tx, _ = transaction_start(transaction_type=kind, data={}, owner="other", actor="app:other")
    return tx.pk


def test_figures_are_right_after_a_mix_of_transactions_and_a_refresh(world):
    world.run(world.start("echo", {}))
    world.run(world.start("echo", {}))
    world.run(world.start("failing", {}))
    world.start("approval", {})
    start_other()
    world.settle()
    world.start("echo", {})
    assert figures_refresh() is True
    assert counts() == {"success": 2, "failed": 1, "sleeping": 1, "queued": 1}
    assert counts("other") == {"success": 1}
    assert FigureMark.objects.get().refreshed_at == world.now()
    by_pipeline = StatusFigure.objects.get(owner_id="test", pipeline_name="approval", status="sleeping")
    assert (by_pipeline.node_group, by_pipeline.count) == ("master", 1)


def test_started_and_finished_are_counted_per_minute(world):
    first = world.now().replace(second=0, microsecond=0)
    world.run(world.start("echo", {}))
    world.run(world.start("failing", {}))
    world.advance("PT2M")
    world.run(world.start("echo", {}))
    world.start("nap", {})
    world.settle()
    figures_refresh()
    rows = minutes()
    assert (rows[(first, "echo")].started, rows[(first, "echo")].success) == (1, 1)
    assert (rows[(first, "failing")].failed, rows[(first, "failing")].finished) == (1, 1)
    later = first + timedelta(minutes=2)
    assert (rows[(later, "echo")].started, rows[(later, "nap")].started, rows[(later, "nap")].finished) == (1, 1, 0)


def test_totals_stay_right_when_minutes_settle_over_several_refreshes(world):
    for _ in range(3):
        world.run(world.start("echo", {}))
        figures_refresh()
        world.advance("PT50S")
    world.advance("PT5M")
    figures_refresh()
    world.run(world.start("failing", {}))
    figures_refresh()
    assert counts() == {"success": 3, "failed": 1}
    settled = StatusFigure.objects.get(owner_id="test", pipeline_name="echo", status="success")
    assert settled.settled == 3
    assert FigureMark.objects.get().settled_until <= world.now() - timedelta(seconds=60)


def test_a_retried_transaction_counts_each_ending_once_its_minute_has_settled(world):
    tx_id = world.start("failing", {})
    world.run(tx_id)
    figures_refresh()
    world.advance("PT3M")
    figures_refresh()
    world.retry(tx_id)
    world.settle()
    figures_refresh()
    assert counts() == {"failed": 2}


def test_queued_running_and_sleeping_counts_follow_the_transactions(world):
    tx_id = world.start("approval", {})
    figures_refresh()
    assert counts() == {"queued": 1}
    world.settle()
    figures_refresh()
    assert counts() == {"sleeping": 1}
    world.set_switch(tx_id, "approved", True)
    world.run(tx_id)
    figures_refresh()
    assert counts() == {"success": 1}


def test_fresh_figures_are_left_alone_and_stale_ones_refreshed(world):
    assert figures_refresh(if_older_than_seconds=5) is True
    world.run(world.start("echo", {}))
    assert figures_refresh(if_older_than_seconds=5) is False
    assert counts() == {}
    world.advance("PT6S")
    assert figures_refresh(if_older_than_seconds=5) is True
    assert counts() == {"success": 1}


def test_the_first_refresh_counts_finishes_older_than_the_kept_minutes(world):
    world.run(world.start("echo", {}))
    world.advance(f"PT{KEEP_MINUTES + 30}M")
    world.run(world.start("failing", {}))
    figures_refresh()
    assert counts() == {"success": 1, "failed": 1}
    oldest = world.now().replace(second=0, microsecond=0) - timedelta(minutes=KEEP_MINUTES)
    assert not MinuteFigure.objects.filter(minute__lt=oldest).exists()
    assert [row.pipeline_name for row in MinuteFigure.objects.all()] == ["failing"]


def test_minutes_older_than_the_kept_hours_are_dropped_but_totals_kept(world):
    world.run(world.start("echo", {}))
    figures_refresh()
    assert MinuteFigure.objects.count() == 1
    world.advance(f"PT{KEEP_MINUTES + 5}M")
    figures_refresh()
    assert MinuteFigure.objects.count() == 0
    assert counts() == {"success": 1}


def test_a_refresh_reads_a_bounded_number_of_queries(world, django_assert_max_num_queries):
    for kind in ("echo", "failing", "approval", "nap"):
        world.start(kind, {})
    world.settle()
    figures_refresh()
    world.advance("PT2M")
    with django_assert_max_num_queries(20):
        figures_refresh()
