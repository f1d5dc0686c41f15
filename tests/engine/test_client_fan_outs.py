"""engine.client's reads of fan-outs: a parent's fan-outs with their progress, and its children (of one fan-out,
by status), all of them across pages; another owner's parent is not found."""
import pytest

from engine import client
from engine.errors import DatpError
from engine.services.owners import owner_ensure
from tests.fan_outs import children_of, fail, release, start_fan


def test_fan_outs_are_listed_oldest_first_with_their_progress(harness):
    parent = start_fan(harness, items=2, transaction_type="two-fans", quick=[1, 2, 3])
    quick, gated = client.fan_outs(owner="test", tx_id=parent)
    assert (quick["step"], quick["total"], quick["succeeded"], quick["outcome"]) == ("quick", 3, 3, "success")
    assert (gated["step"], gated["running"], gated["outcome"]) == ("gated", 2, None)
    assert client.get(owner="test", tx_id=parent)["waiting"]["children"] == gated


def test_children_are_listed_by_fan_out_and_status_across_pages(harness, monkeypatch):
    monkeypatch.setattr(client, "PAGE", 2)  # several pages from a few children
    parent = start_fan(harness, items=3, transaction_type="two-fans", quick=[1, 2, 3, 4])
    quick, gated = (fan["fan_out"] for fan in client.fan_outs(owner="test", tx_id=parent))
    every = {row["tx_id"] for row in client.children(owner="test", tx_id=parent)}
    assert every == set(children_of(parent)) and len(every) == 7
    assert {row["tx_id"] for row in client.children(owner="test", tx_id=parent, fan_out=gated)} == \
        set(children_of(parent, fan_out_item__fan_out_id=gated))
    first, second, _ = children_of(parent, fan_out_item__fan_out_id=gated)
    release(harness, first)
    fail(harness, second)
    assert [row["tx_id"] for row in client.children(owner="test", tx_id=parent, fan_out=gated,
                                                    statuses=["cancelled"])] == [second]
    assert len(client.children(owner="test", tx_id=parent, fan_out=quick, limit=3)) == 3
    assert all("input" not in row for row in client.children(owner="test", tx_id=parent))


def test_another_owners_parent_is_not_found(harness):
    parent = start_fan(harness)
    owner_ensure(name="other")
    for call in (client.fan_outs, client.children):
        with pytest.raises(DatpError) as caught:
            call(owner="other", tx_id=parent)
        assert caught.value.code == "not_found"
