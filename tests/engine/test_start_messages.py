"""Starting what cannot be started says why (issue 17): a child-only pipeline says so and where to start it
from; an unknown transaction type offers the startable one it is close to."""
import pytest

from engine.errors import UnknownTransactionType

ECHO = {"name": "echo", "type": "util/echo"}


@pytest.fixture
def shop(harness):
    harness.load({"name": "payment-charge", "transaction_type": False, "steps": [ECHO]},
                 {"name": "order-create", "steps": [ECHO]},
                 {"name": "order-pay", "steps": [
                     {"name": "charge", "type": "util/child-pipeline", "config": {"pipeline": "payment-charge"}}]})
    return harness


def refusal(harness, name):
    with pytest.raises(UnknownTransactionType) as raised:
        harness.start(name, {})
    assert raised.value.code == "unknown_transaction_type" and raised.value.http_status == 400
    return raised.value.message


def test_a_child_only_pipeline_says_it_starts_only_from_a_parents_step(shop):
    assert refusal(shop, "payment-charge") == (
        "`payment-charge` is a child-only pipeline: start it from a parent's step (util/child-pipeline or "
        "util/call), not directly.")
    assert shop.run(shop.start("order-pay", {})).status == "success"


def test_an_unknown_type_close_to_a_startable_one_says_did_you_mean(shop):
    assert refusal(shop, "order-creat") == "No transaction type named 'order-creat'. Did you mean `order-create`?"


def test_an_unknown_type_is_never_offered_a_child_only_pipeline_or_a_far_name(shop):
    assert refusal(shop, "payment-charg") == "No transaction type named 'payment-charg'."
    assert refusal(shop, "inventory") == "No transaction type named 'inventory'."
