"""MONDAT's Webhooks page: dead deliveries first, filter, keyset paging, re-send one or every dead one."""
import uuid
from datetime import timedelta
from urllib.parse import urlencode

import pytest

from engine.models import JournalEntry, WebhookDelivery


@pytest.fixture
def deliver(world):
    """Make a delivery of a new transaction of `owner`, `minutes` after the start of the test."""
    def make(status, *, owner=None, minutes=0, error=""):
        owner = owner or world.owner
        tx_id = world.start("echo", owner=owner)
        return WebhookDelivery.objects.create(
            tx_id=tx_id, owner_id=owner, event="transaction.finished", url="https://hooks.example.com/datp?x=<y>",
            payload={}, status=status, attempts=12 if status == "dead" else 1, last_error=error,
            created_at=world.now() + timedelta(minutes=minutes),
            next_attempt_at=world.now() if status == "pending" else None,
            delivered_at=world.now() if status == "delivered" else None,
        )
    return make


def test_deliveries_are_listed_dead_first_then_pending_then_delivered_newest_first(
        world, viewer, deliver, django_assert_max_num_queries):
    old_dead = deliver("dead", minutes=1, error="HTTP 500 from <receiver>")
    new_dead = deliver("dead", minutes=5)
    pending = deliver("pending", minutes=9)
    old_ok, new_ok = deliver("delivered", minutes=2), deliver("delivered", minutes=8)
    with django_assert_max_num_queries(11):
        response = viewer.get("/mondat/webhooks/")
    assert response.status_code == 200
    order = [d.delivery_id for d in response.context["deliveries"]]
    assert order == [new_dead.delivery_id, old_dead.delivery_id, pending.delivery_id, new_ok.delivery_id,
                     old_ok.delivery_id]
    html = response.content.decode()
    assert f'href="/mondat/transactions/{old_dead.tx_id}/"' in html
    assert "HTTP 500 from &lt;receiver&gt;" in html and "<receiver>" not in html
    assert "datp?x=&lt;y&gt;" in html
    assert response.context["counts"] == {"dead": 2, "pending": 1, "delivered": 2}
    assert "Re-send" not in html


def test_the_list_filters_by_status(world, viewer, deliver):
    deliver("dead")
    pending = deliver("pending")
    response = viewer.get("/mondat/webhooks/?status=pending")
    assert [d.delivery_id for d in response.context["deliveries"]] == [pending.delivery_id]
    assert viewer.get("/mondat/webhooks/?status=bogus").context["status"] == ""


def test_keyset_pages_cross_from_dead_to_pending_to_delivered_without_gaps(world, viewer, deliver, monkeypatch):
    monkeypatch.setattr("monitoring.views.webhooks.PAGE_SIZE", 3)
    made = [deliver("dead", minutes=1), deliver("dead", minutes=2), deliver("pending", minutes=3),
            deliver("pending", minutes=4), deliver("pending", minutes=4), deliver("delivered", minutes=5),
            deliver("delivered", minutes=6)]
    seen, url, pages = [], "/mondat/webhooks/", 0
    while url and pages < 5:
        response = viewer.get(url)
        pages += 1
        seen.extend(d.delivery_id for d in response.context["deliveries"])
        cursor = response.context["next_cursor"]
        url = f"/mondat/webhooks/?{urlencode({'after': cursor})}" if cursor else None
    assert pages == 3
    assert len(seen) == len(set(seen)) == 7
    assert set(seen) == {d.delivery_id for d in made}
    assert [WebhookDelivery.objects.get(pk=pk).status for pk in seen][:2] == ["dead", "dead"]
    assert viewer.get("/mondat/webhooks/?after=garbage").context["paged"] is False


def test_another_owners_deliveries_are_never_shown_and_resending_one_is_a_404(world, operator, deliver):
    theirs = deliver("dead", owner="other")
    mine = deliver("dead")
    response = operator.get("/mondat/webhooks/")
    assert [d.delivery_id for d in response.context["deliveries"]] == [mine.delivery_id]
    assert str(theirs.delivery_id) not in response.content.decode()
    assert operator.post(f"/mondat/webhooks/{theirs.delivery_id}/resend/").status_code == 404
    assert operator.post(f"/mondat/webhooks/{uuid.uuid4()}/resend/").status_code == 404
    assert WebhookDelivery.objects.get(pk=theirs.pk).status == "dead"


def test_an_operator_resends_a_dead_delivery_with_a_journal_entry_naming_them(world, operator, deliver):
    dead = deliver("dead", error="HTTP 500")
    page = operator.get("/mondat/webhooks/")
    assert b"Re-send" in page.content
    response = operator.post(f"/mondat/webhooks/{dead.delivery_id}/resend/", {"reason": "receiver fixed",
                                                                             "status": "dead"})
    assert response.status_code == 302
    assert response["Location"] == "/mondat/webhooks/?status=dead"
    dead.refresh_from_db()
    assert (dead.status, dead.attempts, dead.last_error) == ("pending", 0, "")
    entry = JournalEntry.objects.get(tx_id=dead.tx_id, kind="webhook_resent")
    assert entry.actor == "user:otto"
    assert entry.data["reason"] == "receiver fixed"


def test_a_viewer_sees_no_resend_buttons_and_a_forged_post_gets_403(world, viewer, deliver):
    dead = deliver("dead")
    assert b"Re-send" not in viewer.get("/mondat/webhooks/").content
    assert viewer.post(f"/mondat/webhooks/{dead.delivery_id}/resend/").status_code == 403
    assert viewer.post("/mondat/webhooks/resend-dead/", {"confirm": "yes"}).status_code == 403
    assert WebhookDelivery.objects.get(pk=dead.pk).status == "dead"


def test_resend_all_dead_queues_only_the_users_owners_dead_deliveries_each_journaled(
        world, operator, deliver, django_assert_max_num_queries):
    mine = [deliver("dead", minutes=n) for n in range(3)]
    delivered = deliver("delivered")
    theirs = deliver("dead", owner="other")
    unconfirmed = operator.post("/mondat/webhooks/resend-dead/", {"reason": "all"})
    assert unconfirmed.status_code == 302
    assert WebhookDelivery.objects.filter(status="dead").count() == 4
    with django_assert_max_num_queries(16):
        response = operator.post("/mondat/webhooks/resend-dead/", {"confirm": "yes", "reason": "outage over"})
    assert response.status_code == 302
    assert {WebhookDelivery.objects.get(pk=d.pk).status for d in mine} == {"pending"}
    assert WebhookDelivery.objects.get(pk=theirs.pk).status == "dead"
    assert WebhookDelivery.objects.get(pk=delivered.pk).status == "delivered"
    entries = JournalEntry.objects.filter(kind="webhook_resent")
    assert sorted(e.tx_id for e in entries) == sorted(d.tx_id for d in mine)
    assert {(e.actor, e.data["reason"], e.data["previous"]) for e in entries} == {("user:otto", "outage over", "dead")}
    page = operator.get(response["Location"])
    assert b"3 dead deliveries are queued again." in page.content
