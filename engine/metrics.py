"""Prometheus figures of what the database knows, so they are right whichever process did the work.

Transaction counts come from the figures the nodes keep (engine.services.figures), never from a GROUP
BY over the transactions table; a scrape refreshes them itself when no node has for a while.
"""
from django.db.models import Count, Sum
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from engine.models import Sleeper, StatusFigure, WebhookDelivery
from engine.services.figures import REFRESH_SECONDS, figures_refresh
from engine.states import TxStatus


class DatabaseCollector:
    """Collect the engine's figures from the database on each scrape (read-only queries)."""

    def collect(self):
        by_type = CounterMetricFamily(
            "datp_transactions",
            "Transactions by type: queued, running and sleeping now; endings by status since the figures began.",
            labels=["transaction_type", "status"])
        figures_refresh(if_older_than_seconds=2 * REFRESH_SECONDS)
        for row in StatusFigure.objects.values("pipeline_name", "status").annotate(n=Sum("count")).order_by():
            if row["n"]:
                by_type.add_metric([row["pipeline_name"], row["status"]], row["n"])
        yield by_type
        sleepers = GaugeMetricFamily("datp_sleepers", "Sleeping transactions by what they wait for.", labels=["reason"])
        for row in Sleeper.objects.values("reason").annotate(n=Count("pk")).order_by():
            sleepers.add_metric([row["reason"]], row["n"])
        yield sleepers
        queued = GaugeMetricFamily("datp_queue_depth", "Queued transactions by node group.", labels=["node_group"])
        running = GaugeMetricFamily("datp_running", "Running transactions by node group.", labels=["node_group"])
        active = (StatusFigure.objects.filter(status__in=[TxStatus.QUEUED, TxStatus.RUNNING])
                  .values("node_group", "status").annotate(n=Sum("count")).order_by())
        for row in active:
            family = queued if row["status"] == TxStatus.QUEUED else running
            family.add_metric([row["node_group"]], row["n"])
        yield queued
        yield running
        webhooks = GaugeMetricFamily("datp_webhook_deliveries", "Webhook deliveries by status.", labels=["status"])
        for row in WebhookDelivery.objects.values("status").annotate(n=Count("pk")).order_by():
            webhooks.add_metric([row["status"]], row["n"])
        yield webhooks
