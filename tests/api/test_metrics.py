"""GET /metrics: the database's figures in Prometheus text."""
import pytest


def _metrics(client):
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    return response.content.decode()


def test_metrics_count_transactions_sleepers_and_queues(client, harness):
    harness.load({"name": "quick", "steps": [{"type": "util/echo"}]},
                 {"name": "waits", "steps": [{"type": "util/wait-switch", "config": {"switch": "go"}}]})
    harness.run(harness.start("quick", {}))
    harness.settle()
    sleeping = harness.start("waits", {})
    harness.settle()
    harness.start("quick", {})
    text = _metrics(client)
    assert 'datp_transactions_total{status="success",transaction_type="quick"} 1.0' in text
    assert 'datp_transactions_total{status="queued",transaction_type="quick"} 1.0' in text
    assert 'datp_sleepers{reason="switch"} 1.0' in text
    assert 'datp_queue_depth{node_group="master"} 1.0' in text
    harness.set_switch(sleeping, "go", True)
    harness.settle()
    assert 'datp_sleepers{reason="switch"}' not in _metrics(client)


@pytest.mark.django_db
def test_metrics_can_be_made_private(client, settings):
    settings.DATP = {**settings.DATP, "METRICS_PUBLIC": False}
    assert client.get("/metrics").status_code == 403
