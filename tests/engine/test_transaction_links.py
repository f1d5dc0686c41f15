"""A transaction's links are its URLs by name, whether filled from the paths reversed once or reversed anew."""
import pytest
from django.urls import get_script_prefix, reverse, set_script_prefix

from engine.selectors import transaction_links


def _reversed(tx_id):
    return {"self": reverse("api:transaction", kwargs={"tx_id": tx_id}),
            "console": reverse("mondat:transaction", kwargs={"tx_id": tx_id}).removesuffix("/")}


@pytest.mark.parametrize("tx_id", ["tx-0123456789abcdef0123456789abcdef", "tx-A_b-9", "an id", "ü", "a%2F", "datp"])
def test_links_are_the_reversed_urls(tx_id):
    assert transaction_links(tx_id=tx_id) == _reversed(tx_id)


def test_links_follow_the_script_prefix():
    before = get_script_prefix()
    transaction_links(tx_id="tx-1")
    set_script_prefix("/sub/")
    try:
        assert transaction_links(tx_id="tx-1") == _reversed("tx-1") == {
            "self": "/sub/api/v1/transactions/tx-1", "console": "/sub/mondat/transactions/tx-1"}
    finally:
        set_script_prefix(before)
