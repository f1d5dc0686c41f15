"""Prometheus figures of what the database knows, so they are right whichever process did the work."""
from django.db.models import Count
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from engine.models import Sleeper, Transaction, WebhookDelivery
from engine.states import TxStatus


class DatabaseCollector:
    """Collect the engine's figures from the database on each scrape (read-only queries)."""

    def collect(self):
        by_type = CounterMetricFamily("datp_transactions", "Transactions by type and status (started, as they stand).",
                                      labels=["transaction_type", "status"])
        for row in Transaction.objects.values("pipeline_name", "status").annotate(n=Count("pk")).order_by():
            by_type.add_metric([row["pipeline_name"], row["status"]], row["n"])
        yield by_type
        sleepers = GaugeMetricFamily("datp_sleepers", "Sleeping transactions by what they wait for.", labels=["reason"])
        for row in Sleeper.objects.values("reason").annotate(n=Count("pk")).order_by():
            sleepers.add_metric([row["reason"]], row["n"])
        yield sleepers
        queued = GaugeMetricFamily("datp_queue_depth", "Queued transactions by node group.", labels=["node_group"])
        running = GaugeMetricFamily("datp_running", "Running transactions by node group.", labels=["node_group"])
        active = (Transaction.objects.filter(status__in=[TxStatus.QUEUED, TxStatus.RUNNING])
                  .values("node_group_id", "status").annotate(n=Count("pk")).order_by())
        for row in active:
            family = queued if row["status"] == TxStatus.QUEUED else running
            family.add_metric([row["node_group_id"]], row["n"])
        yield queued
        yield running
        webhooks = GaugeMetricFamily("datp_webhook_deliveries", "Webhook deliveries by status.", labels=["status"])
        for row in WebhookDelivery.objects.values("status").annotate(n=Count("pk")).order_by():
            webhooks.add_metric([row["status"]], row["n"])
        yield webhooks
