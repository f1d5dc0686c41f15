"""The Transaction page shows an open callback's partner URL to a user who may act, not to a viewer (issue 17)."""
import logging

from engine import tokens
from engine.models import Callback


def awaiting(world):
    tx_id = world.start("hooked", {})
    world.settle()
    assert world.result(tx_id).status == "sleeping"
    return tx_id


def test_an_operator_sees_the_absolute_partner_url_of_an_open_callback(world, operator, caplog):
    caplog.set_level(logging.DEBUG)
    tx_id = awaiting(world)
    token = world.callback_token(tx_id)
    body = operator.get(f"/mondat/transactions/{tx_id}/").content.decode()
    assert f'id="callback-url-default">http://testserver{tokens.url(token)}</dd>' in body
    assert token not in caplog.text


def test_a_viewer_sees_the_callback_but_not_its_url(world, viewer):
    tx_id = awaiting(world)
    body = viewer.get(f"/mondat/transactions/{tx_id}/").content.decode()
    assert "<code>default</code>" in body
    assert "callback-url-" not in body and world.callback_token(tx_id) not in body


def test_a_final_callback_shows_no_url_and_another_owners_operator_gets_a_404(world, operator, other_operator):
    tx_id = awaiting(world)
    assert other_operator.get(f"/mondat/transactions/{tx_id}/").status_code == 404
    Callback.objects.filter(tx_id=tx_id).update(status="error")
    assert "callback-url-" not in operator.get(f"/mondat/transactions/{tx_id}/").content.decode()
