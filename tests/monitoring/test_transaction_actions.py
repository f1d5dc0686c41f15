"""The Transaction page's actions: each goes through the engine's service as the user, with the reason."""
import pytest
from django.contrib.messages import get_messages

from engine.models import JournalEntry, Switch, Transaction, WebhookDelivery


def act(client, tx_id, action, **form):
    return client.post(f"/mondat/transactions/{tx_id}/{action}", form)


def flashed(response):
    return [str(message) for message in get_messages(response.wsgi_request)]


def status(tx_id):
    return Transaction.objects.get(pk=tx_id).status


def last_entry(tx_id, kind):
    return JournalEntry.objects.filter(tx_id=tx_id, kind=kind).order_by("-id").first()


@pytest.fixture
def waiting(world):
    """A transaction sleeping on its switch `approved`."""
    tx_id = world.start("approval", {})
    world.settle()
    return tx_id


@pytest.fixture
def failed(world):
    tx_id = world.start("failing", {})
    world.run(tx_id)
    assert status(tx_id) == "failed"
    return tx_id


def test_setting_the_waited_switch_wakes_the_transaction_as_the_user_with_the_reason(world, operator, waiting):
    response = act(operator, waiting, "switch", name="approved", value="true", reason="checked by phone", op="set")
    assert response.status_code == 302 and response["Location"] == f"/mondat/transactions/{waiting}/"
    assert status(waiting) == "queued"
    entry = last_entry(waiting, "switch")
    assert (entry.actor, entry.data["value"], entry.data["reason"], entry.data["channel"]) == \
        ("user:otto", True, "checked by phone", "console")
    assert "woken" in flashed(response)[0]


@pytest.mark.parametrize(("typed", "stored"), [
    ("false", False), ("42", 42), ('"yes"', "yes"), ("plain words", "plain words"),
])
def test_a_switch_value_is_json_or_else_the_text_itself(world, operator, waiting, typed, stored):
    act(operator, waiting, "switch", name="colour", value=typed, op="set")
    assert Switch.objects.get(tx_id=waiting, name="colour").value == stored


def test_clearing_a_switch_makes_it_null_and_journals_it(world, operator, waiting):
    world.set_switch(waiting, "colour", "red")
    act(operator, waiting, "switch", name="colour", op="clear", reason="wrong colour")
    assert Switch.objects.get(tx_id=waiting, name="colour").value is None
    entry = last_entry(waiting, "switch")
    assert (entry.actor, entry.data["value"], entry.data["reason"]) == ("user:otto", None, "wrong colour")


def test_a_switch_value_that_is_an_object_is_refused_with_the_engines_message(world, operator, waiting):
    response = act(operator, waiting, "switch", name="colour", value='{"a": 1}', op="set")
    assert response.status_code == 302
    assert "true, false, a number, a string or null" in flashed(response)[0]
    assert not Switch.objects.filter(tx_id=waiting, name="colour").exists()


def test_wake_now_queues_a_sleeper_and_journals_the_user_and_reason(world, operator):
    tx_id = world.start("nap", {})
    world.settle()
    response = act(operator, tx_id, "wake", reason="customer called")
    assert status(tx_id) == "queued"
    entry = last_entry(tx_id, "woken")
    assert entry.actor == "user:otto" and "customer called" in entry.data["why"]
    assert flashed(response) == ["Woken: the transaction is queued."]


def test_cancel_with_a_reason_cancels_as_the_user(world, operator, waiting):
    response = act(operator, waiting, "cancel", reason="duplicate order")
    assert status(waiting) == "cancelled"
    entry = JournalEntry.objects.filter(tx_id=waiting, data__to="cancelled").get()
    assert entry.actor == "user:otto" and entry.data["reason"] == "duplicate order"
    assert flashed(response) == ["Cancelled."]


@pytest.mark.parametrize("reason", ["", "   "])
def test_cancel_without_a_reason_changes_nothing_and_says_why(world, operator, waiting, reason):
    before = JournalEntry.objects.filter(tx_id=waiting).count()
    response = act(operator, waiting, "cancel", reason=reason)
    assert response.status_code == 302
    assert status(waiting) == "sleeping"
    assert JournalEntry.objects.filter(tx_id=waiting).count() == before
    assert "Give a reason" in flashed(response)[0]


def test_retry_queues_a_failed_transaction_with_a_new_deadline(world, operator, failed):
    act(operator, failed, "retry", reason="fixed the config", deadline="PT1H")
    tx = Transaction.objects.get(pk=failed)
    assert tx.status == "queued" and tx.deadline_at is not None
    entry = last_entry(failed, "retry")
    assert entry.actor == "user:otto" and entry.data["reason"] == "fixed the config"


def test_retry_with_a_bad_deadline_shows_the_error_and_changes_nothing(world, operator, failed):
    response = act(operator, failed, "retry", deadline="tomorrow")
    assert status(failed) == "failed"
    assert "deadline" in flashed(response)[0]


def test_moving_and_clearing_the_deadline_journal_the_user(world, operator, waiting):
    act(operator, waiting, "deadline", deadline="P1D", reason="more time", op="move")
    assert Transaction.objects.get(pk=waiting).deadline_at is not None
    entry = last_entry(waiting, "deadline")
    assert (entry.actor, entry.data["reason"]) == ("user:otto", "more time")
    act(operator, waiting, "deadline", op="clear", reason="no limit")
    assert Transaction.objects.get(pk=waiting).deadline_at is None
    assert last_entry(waiting, "deadline").data["reason"] == "no limit"


@pytest.mark.parametrize("deadline", ["P1000000Y", "-P1D", "P1.5Y", "9999-12-31T23:00:00-05:00", "next week"])
def test_moving_the_deadline_to_one_no_datetime_holds_shows_the_error_and_changes_nothing(world, operator, waiting,
                                                                                        deadline):
    act(operator, waiting, "deadline", deadline="P1D", op="move")
    before = Transaction.objects.get(pk=waiting).deadline_at
    response = act(operator, waiting, "deadline", deadline=deadline, op="move")
    assert response.status_code == 302
    assert flashed(response)[-1].startswith("deadline: ")
    assert Transaction.objects.get(pk=waiting).deadline_at == before
    assert JournalEntry.objects.filter(tx_id=waiting, kind="deadline").count() == 1


def test_retry_with_a_deadline_past_year_9999_shows_the_error_and_changes_nothing(world, operator, failed):
    response = act(operator, failed, "retry", deadline="P1000000Y")
    assert status(failed) == "failed"
    assert "Too long" in flashed(response)[0]


def test_moving_the_deadline_without_one_changes_nothing(world, operator, waiting):
    response = act(operator, waiting, "deadline", op="move", deadline="")
    assert "Give a deadline" in flashed(response)[0]
    assert not JournalEntry.objects.filter(tx_id=waiting, kind="deadline").exists()


def test_resending_a_dead_webhook_delivery_queues_it_and_journals_the_user(world, operator):
    tx_id = world.start("echo", {}, webhook="https://hooks.example.com/datp")
    world.run(tx_id)
    delivery = WebhookDelivery.objects.filter(tx_id=tx_id).first()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status="dead", attempts=12, last_error="HTTP 500")
    response = act(operator, tx_id, f"webhooks/{delivery.pk}/resend", reason="receiver fixed")
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("pending", 0)
    entry = last_entry(tx_id, "webhook_resent")
    assert (entry.actor, entry.data["reason"]) == ("user:otto", "receiver fixed")
    assert flashed(response) == ["The webhook delivery is queued again."]


@pytest.mark.parametrize(("action", "form", "message"), [
    ("wake", {}, "not sleeping"),
    ("cancel", {"reason": "too late"}, "already finished"),
    ("retry", {}, "cannot be retried"),
    ("deadline", {"deadline": "PT1H", "op": "move"}, "finished transaction"),
    ("switch", {"name": "approved", "value": "true", "op": "set"}, "finished transaction"),
])
def test_an_action_in_the_wrong_status_shows_the_engines_error(world, operator, action, form, message):
    tx_id = world.start("echo", {})
    world.run(tx_id)
    response = act(operator, tx_id, action, **form)
    assert response.status_code == 302
    assert message in flashed(response)[0]
    assert status(tx_id) == "success"
    assert message in operator.get(response["Location"]).content.decode()


@pytest.mark.parametrize("action", ["wake", "cancel", "retry", "deadline", "switch"])
def test_a_forged_post_from_a_viewer_is_403_and_changes_nothing(world, viewer, waiting, action):
    response = act(viewer, waiting, action, reason="forged", name="approved", value="true", deadline="PT1H")
    assert response.status_code == 403
    assert status(waiting) == "sleeping"
    assert not JournalEntry.objects.filter(tx_id=waiting, actor="user:vera").exists()


def test_another_owners_operator_gets_404_and_changes_nothing(world, other_operator, waiting):
    response = act(other_operator, waiting, "cancel", reason="not mine")
    assert response.status_code == 404
    assert status(waiting) == "sleeping"


def test_an_action_url_refuses_get(world, operator, waiting):
    assert operator.get(f"/mondat/transactions/{waiting}/cancel").status_code == 405
