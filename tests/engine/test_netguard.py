"""The webhook SSRF guard (spec/quality.md S6): link-local always refused, loopback and private ranges
refused unless allowed, checked on the address actually connected to and on every redirect."""
import socket

import pytest

from engine import netguard
from engine.errors import InvalidRequest
from engine.models import WebhookDelivery
from engine.services.webhooks import webhooks_deliver_due
from tests.engine.test_webhooks import finish, private_ok, receiver  # noqa: F401  (fixtures)

LINK_LOCAL = ["169.254.169.254", "169.254.0.1", "fe80::1", "::ffff:169.254.169.254"]
PRIVATE = ["127.0.0.1", "127.8.9.10", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1", "::1",
           "fc00::1", "fd12:3456::1", "0.0.0.0", "224.0.0.1", "ff02::1", "240.0.0.1", "100.64.0.1"]
PUBLIC = ["8.8.8.8", "172.32.0.1", "2001:4860:4860::8888"]


@pytest.mark.parametrize("address", LINK_LOCAL)
@pytest.mark.parametrize("allow_private", [False, True])
def test_link_local_is_refused_even_when_private_networks_are_allowed(address, allow_private):
    assert "link-local" in netguard.address_refusal(address, allow_private=allow_private)


@pytest.mark.parametrize("address", PRIVATE)
def test_loopback_private_and_non_unicast_are_refused_unless_allowed(address):
    assert netguard.address_refusal(address, allow_private=False)
    assert netguard.address_refusal(address, allow_private=True) is None


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_allowed(address):
    assert netguard.address_refusal(address, allow_private=False) is None


@pytest.fixture
def pipeline(harness):
    harness.load({"name": "wh", "steps": [{"type": "util/echo"}]})
    return "wh"


@pytest.mark.parametrize("url", ["ftp://hooks.example.com/x", "hooks.example.com/x", "http:///nohost",
                                 "http://169.254.169.254/latest/meta-data", "http://[fe80::1]/x",
                                 "http://127.0.0.1/x", "http://10.0.0.7:8080/x", "http://[::1]/x"])
def test_start_refuses_a_webhook_url_refused_by_its_text(harness, pipeline, url):
    with pytest.raises(InvalidRequest) as caught:
        harness.start(pipeline, {}, webhook=url)
    assert caught.value.code == "invalid_request"
    assert list(caught.value.extra["fields"]) == ["webhook"]


def test_start_accepts_a_private_literal_only_when_private_networks_are_allowed(harness, pipeline, private_ok):
    assert harness.start(pipeline, {}, webhook="http://127.0.0.1:9/x")
    with pytest.raises(InvalidRequest):
        harness.start(pipeline, {}, webhook="http://169.254.169.254/x")


def test_start_accepts_a_public_host_name_without_resolving_it(harness, pipeline):
    assert harness.start(pipeline, {}, webhook="https://hooks.example.com/datp")


def test_private_literal_url_is_dead_at_once_when_private_networks_are_not_allowed(harness, receiver, private_ok):
    finish(harness, receiver.url)
    private_ok.DATP = {**private_ok.DATP, "WEBHOOK_ALLOW_PRIVATE_NETWORKS": False}

    assert webhooks_deliver_due() == {"delivered": 0, "failed": 0, "dead": 1}
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("dead", 1)
    assert "127.0.0.1 is a loopback address" in delivery.last_error
    assert receiver.requests == []


@pytest.fixture
def dns(monkeypatch):
    """A resolver answering for *.example.test from a table, and normally for the rest."""
    table = {}
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host in table:
            return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
                    for a in table[host]]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return table


def test_host_name_resolving_to_loopback_is_refused_by_default(harness, receiver, private_ok, dns):
    dns["hooks.example.test"] = ["127.0.0.1"]
    finish(harness, receiver.url.replace("127.0.0.1", "hooks.example.test"))
    private_ok.DATP = {**private_ok.DATP, "WEBHOOK_ALLOW_PRIVATE_NETWORKS": False}

    assert webhooks_deliver_due()["failed"] == 1
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "pending"
    assert "hooks.example.test resolves to 127.0.0.1 is a loopback address" in delivery.last_error
    assert receiver.requests == []


def test_host_name_rebound_to_link_local_is_refused_even_when_private_allowed(harness, receiver, private_ok, dns):
    dns["hooks.example.test"] = ["127.0.0.1"]
    finish(harness, receiver.url.replace("127.0.0.1", "hooks.example.test"))
    dns["hooks.example.test"] = ["169.254.169.254"]

    assert webhooks_deliver_due()["failed"] == 1
    assert "link-local" in WebhookDelivery.objects.get().last_error
    assert receiver.requests == []


def test_connects_to_the_checked_address_and_sends_the_url_host(harness, receiver, private_ok, dns):
    dns["hooks.example.test"] = ["169.254.169.254", "127.0.0.1"]
    url = receiver.url.replace("127.0.0.1", "hooks.example.test")
    finish(harness, url)

    assert webhooks_deliver_due()["delivered"] == 1
    host = url.split("/")[2]
    assert [request["headers"]["Host"] for request in receiver.requests] == [host]


@pytest.mark.parametrize("location", ["http://169.254.169.254/latest/meta-data", "http://[fe80::1]:80/x",
                                      "http://metadata.example.test/x", "file:///etc/passwd"])
def test_redirect_to_a_refused_address_is_not_followed(harness, receiver, private_ok, dns, location):
    dns["metadata.example.test"] = ["169.254.169.254"]
    receiver.replies = [(302, location)]
    finish(harness, receiver.url)

    assert webhooks_deliver_due()["failed"] == 1
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("pending", 1)
    assert "refused" in delivery.last_error
    assert len(receiver.requests) == 1


def test_redirect_to_loopback_is_refused_when_private_networks_are_not_allowed(harness, receiver, private_ok,
                                                                              dns, monkeypatch):
    dns["hooks.example.test"] = ["127.0.0.1"]
    port = receiver.url.split(":")[2].split("/")[0]
    receiver.replies = [(307, f"http://127.0.0.2:{port}/inside")]
    finish(harness, receiver.url.replace("127.0.0.1", "hooks.example.test"))
    private_ok.DATP = {**private_ok.DATP, "WEBHOOK_ALLOW_PRIVATE_NETWORKS": False}
    real = netguard.address_refusal
    # In this test's world the receiver's own address is a public one.
    monkeypatch.setattr(netguard, "address_refusal",
                        lambda address, **kw: None if address == "127.0.0.1" else real(address, **kw))

    assert webhooks_deliver_due()["failed"] == 1
    assert "127.0.0.2 is a loopback address" in WebhookDelivery.objects.get().last_error
    assert [request["path"] for request in receiver.requests] == ["/hook"]


def test_more_than_five_redirects_is_a_failed_attempt(harness, receiver, private_ok):
    receiver.replies = [(307, "/again")] * 6
    finish(harness, receiver.url)

    assert webhooks_deliver_due()["failed"] == 1
    assert "more than 5 redirects" in WebhookDelivery.objects.get().last_error
    assert len(receiver.requests) == 6
