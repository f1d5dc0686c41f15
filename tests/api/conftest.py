"""API fixtures: clients holding keys of two owners, and a few pipelines, on the harness's test database."""
from types import SimpleNamespace

import pytest
from rest_framework.test import APIClient

from engine.services.owners import api_key_create

PIPELINES = [
    {"name": "echo", "steps": [{"name": "echo", "type": "util/echo"}]},
    {"name": "approval", "steps": [
        {"name": "approval", "type": "util/wait-switch", "config": {"switch": "approved"}},
        {"name": "done", "type": "util/echo"},
    ]},
    {"name": "failing", "steps": [{"name": "boom", "type": "util/fail", "config": {"note": "boom"}}]},
    {"name": "nap", "steps": [{"name": "nap", "type": "util/sleep", "config": {"duration": "PT5S"}}]},
    {"name": "hooked", "steps": [
        {"name": "make", "type": "util/callback", "config": {"name": "default"}},
        {"name": "await", "type": "util/await"},
    ]},
    {"name": "helper", "transaction_type": False, "steps": [{"name": "echo", "type": "util/echo"}]},
]


def client_for(owner, name, system=False):
    key, raw = api_key_create(owner=owner, name=name, system=system)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    client.api_key = key
    return client


@pytest.fixture
def api(harness):
    """A client with a key of the harness's owner ("test"), named `myapp`; the pipelines are loaded."""
    harness.load(*PIPELINES)
    return client_for(harness.owner, "myapp")


@pytest.fixture
def other_api(harness):
    """A client with a key of another owner."""
    return client_for("other", "theirs")


@pytest.fixture
def anon(db):
    return APIClient()


def start(client, transaction_type="echo", **fields):
    """Start a transaction through the API and return its tx_id (asserting it was created)."""
    response = client.post("/api/v1/transactions", {"transaction_type": transaction_type, **fields}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()["tx_id"]


@pytest.fixture
def busy_world(harness, monkeypatch):
    """While the API waits, the engine keeps running: each poll's sleep moves time and runs what is due."""
    def sleep(seconds):
        harness.clock.sleep(seconds)
        harness.settle()

    monkeypatch.setattr("engine.api.long_poll.clock", SimpleNamespace(now=harness.now, sleep=sleep))
