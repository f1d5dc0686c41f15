"""Webhook delivery (spec/api.md "Webhooks", quality R8): signed POSTs from the outbox to a real local
receiver, retried with backoff until `delivered` or `dead`, with a stable delivery id."""
import hashlib
import hmac
import json
import socket
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from engine.errors import NotFound
from engine.models import Owner, WebhookDelivery
from engine.services import webhooks
from engine.services.webhooks import webhook_resend, webhooks_deliver_due


class Receiver:
    """An HTTP server on 127.0.0.1 that records each POST and answers with the next queued reply."""

    def __init__(self):
        self.requests = []
        self.replies = []
        self.release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                reply = receiver.replies.pop(0) if receiver.replies else 200
                if reply == "slow":
                    receiver.release.wait(5)
                    reply = 200
                if isinstance(reply, tuple):
                    self.send_response(reply[0])
                    self.send_header("Location", reply[1])
                else:
                    self.send_response(reply)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                """Keep the test output quiet."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def bodies(self):
        return [json.loads(request["body"]) for request in self.requests]


@pytest.fixture
def receiver():
    found = Receiver()
    found.thread.start()
    yield found
    found.release.set()
    found.server.shutdown()
    found.server.server_close()


@pytest.fixture
def private_ok(settings):
    settings.DATP = {**getattr(settings, "DATP", {}), "WEBHOOK_ALLOW_PRIVATE_NETWORKS": True,
                     "WEBHOOK_TIMEOUT_SECONDS": 2}
    return settings


def closed_port_url():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"


def finish(harness, url, *, progress=False, steps=None):
    harness.load({"name": "wh", "steps": steps or [{"type": "util/echo"}]})
    tx_id = harness.start("wh", {"n": 1}, webhook=url, webhook_progress=progress)
    assert harness.run(tx_id).status == "success"
    return tx_id


def verify(request, secret):
    """Check the signature the way a receiver would; return the signed timestamp."""
    fields = dict(part.split("=", 1) for part in request["headers"]["X-DATP-Signature"].split(","))
    expected = hmac.new(secret.encode(), fields["t"].encode() + b"." + request["body"], hashlib.sha256).hexdigest()
    assert hmac.compare_digest(expected, fields["v1"])
    return int(fields["t"])


def test_finished_transaction_is_posted_signed_and_delivered(harness, receiver, private_ok):
    tx_id = finish(harness, receiver.url)

    assert webhooks_deliver_due() == {"delivered": 1, "failed": 0, "dead": 0}

    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.delivered_at) == ("delivered", 1, harness.now())
    [request] = receiver.requests
    assert request["path"] == "/hook"
    assert request["headers"]["Content-Type"] == "application/json"
    assert verify(request, Owner.objects.get(pk="test").webhook_secret) == int(harness.now().timestamp())
    body = json.loads(request["body"])
    assert list(body) == ["event", "delivery_id", "sent_at", "transaction"]
    assert body["event"] == "transaction.finished"
    assert body["delivery_id"] == str(delivery.delivery_id)
    assert body["transaction"]["tx_id"] == tx_id and body["transaction"]["status"] == "success"
    assert webhooks_deliver_due() == {"delivered": 0, "failed": 0, "dead": 0}


def test_signature_made_with_another_secret_does_not_verify(harness, receiver, private_ok):
    finish(harness, receiver.url)
    webhooks_deliver_due()
    with pytest.raises(AssertionError):
        verify(receiver.requests[0], "not-the-owner-secret")


def test_receiver_down_is_retried_with_doubling_backoff_then_dead_after_twelve(harness, private_ok):
    finish(harness, closed_port_url())
    gaps = []
    for attempt in range(1, 13):
        assert WebhookDelivery.objects.get().status == "pending"
        attempted_at = harness.now()
        webhooks_deliver_due()
        delivery = WebhookDelivery.objects.get()
        assert delivery.attempts == attempt
        assert "Refused" in delivery.last_error
        if attempt < 12:
            gaps.append((delivery.next_attempt_at - attempted_at).total_seconds())
            assert webhooks_deliver_due(now=delivery.next_attempt_at - timedelta(seconds=1))["failed"] == 0
            harness.clock.move_to(delivery.next_attempt_at)
    assert gaps == [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 600]
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.next_attempt_at) == ("dead", None)
    harness.advance("P1D")
    assert webhooks_deliver_due() == {"delivered": 0, "failed": 0, "dead": 0}
    assert WebhookDelivery.objects.get().attempts == 12


def test_slow_receiver_past_the_timeout_is_a_failed_attempt(harness, receiver, private_ok, settings):
    settings.DATP = {**settings.DATP, "WEBHOOK_TIMEOUT_SECONDS": 0.3}
    receiver.replies = ["slow"]
    finish(harness, receiver.url)

    assert webhooks_deliver_due() == {"delivered": 0, "failed": 1, "dead": 0}
    receiver.release.set()
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("pending", 1)
    assert "no answer within 0.3 s" in delivery.last_error
    assert delivery.next_attempt_at == harness.now() + timedelta(seconds=1)


def test_server_error_is_retried_and_the_delivery_id_stays_the_same(harness, receiver, private_ok):
    receiver.replies = [500, 503]
    finish(harness, receiver.url)

    assert webhooks_deliver_due()["failed"] == 1
    assert "HTTP 500" in WebhookDelivery.objects.get().last_error
    harness.advance(1)
    assert webhooks_deliver_due()["failed"] == 1
    harness.advance(2)
    assert webhooks_deliver_due()["delivered"] == 1

    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("delivered", 3, "")
    bodies = receiver.bodies()
    assert [body["delivery_id"] for body in bodies] == [str(delivery.delivery_id)] * 3
    assert len({body["sent_at"] for body in bodies}) == 3


def test_redirect_to_an_allowed_address_is_followed(harness, receiver, private_ok):
    receiver.replies = [(307, "/moved")]
    finish(harness, receiver.url)

    assert webhooks_deliver_due()["delivered"] == 1
    assert [request["path"] for request in receiver.requests] == ["/hook", "/moved"]


def test_progress_reports_are_delivered_only_when_asked_for(harness, receiver, private_ok):
    steps = [{"type": "util/progress", "config": {"report": {"done": 1}}}, {"type": "util/echo"}]
    finish(harness, receiver.url, steps=steps)
    assert list(WebhookDelivery.objects.values_list("event", flat=True)) == ["transaction.finished"]

    WebhookDelivery.objects.all().delete()
    finish(harness, receiver.url, steps=steps, progress=True)
    assert sorted(WebhookDelivery.objects.values_list("event", flat=True)) == \
        ["transaction.finished", "transaction.progress"]
    assert webhooks_deliver_due()["delivered"] == 2
    progress = [body for body in receiver.bodies() if body["event"] == "transaction.progress"]
    assert progress[0]["transaction"]["progress"] == {"done": 1}


def test_resend_queues_a_dead_delivery_again_and_is_journalled(harness, receiver, private_ok):
    finish(harness, receiver.url)
    WebhookDelivery.objects.update(status="dead", attempts=12, next_attempt_at=None, last_error="HTTP 500")
    delivery = WebhookDelivery.objects.get()

    webhook_resend(delivery_id=delivery.delivery_id, owner="test", actor="user:ann")
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == ("pending", 0, harness.now())
    assert webhooks_deliver_due()["delivered"] == 1
    assert receiver.bodies()[0]["delivery_id"] == str(delivery.delivery_id)
    entry = harness.result(delivery.tx_id).journal[-1]
    assert (entry.kind, entry.actor) == ("webhook_resent", "user:ann")


def test_a_claimed_delivery_is_not_claimed_again_while_its_attempt_is_in_flight(harness, receiver, private_ok):
    finish(harness, receiver.url)
    [claimed] = webhooks._claim(harness.now(), 50)
    assert claimed.attempts == 1 and claimed.next_attempt_at > harness.now()

    assert webhooks._claim(harness.now(), 50) == []
    assert webhooks_deliver_due() == {"delivered": 0, "failed": 0, "dead": 0}
    assert receiver.requests == []


def test_resend_of_another_owners_delivery_is_not_found(harness, receiver, private_ok):
    finish(harness, receiver.url)
    delivery = WebhookDelivery.objects.get()
    with pytest.raises(NotFound) as caught:
        webhook_resend(delivery_id=delivery.delivery_id, owner="someone-else", actor="user:eve")
    assert caught.value.code == "not_found"
