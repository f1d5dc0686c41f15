"""A parent's end cancels its quiet fan-out children in one statement per batch (`cancel_many`) writing and
sending the same as cancelling each through the general path: each child cancelled with its last input as
output, its journal entry and notice, its sleeper gone, its end counted in its fan-out (see the table of
boundaries in tests/engine/test_fast_and_general_agree.py). The statement takes queued and sleeping children
of a fan-out with nothing else to follow up; a lone child, a running one, and one with an open callback go
one by one."""
import pytest

from engine.services import callbacks
from engine.models import Transaction
from tests.engine.agreement import assert_agree, cases, later, pause

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]

KID = {"name": "kid", "transaction_type": False, "node_group": "side", "steps": [
    {"name": "first", "type": "util/echo"},
    {"name": "hold", "type": "util/wait-switch", "config": {"switch": "go"}}]}
CALLING_KID = {"name": "calling-kid", "transaction_type": False, "steps": [
    {"name": "cb", "type": "util/callback", "config": {"name": "cb"}},
    {"name": "await", "type": "util/await", "config": {"callback": "cb"}}]}


def mapping(pipeline="kid", **config):
    return {"name": "mapper", "steps": [{"name": "each", "type": "util/map",
                                        "config": {"items": "/items", "pipeline": pipeline, **config}}]}


def _fanned(count, *, pipeline="kid", queued=False, released=0, then=None, **config):
    """A parent sleeping on a map of `count` children: queued ones (their group paused), or asleep on their
    switch, `released` of them finished."""
    def build(h):
        h.load(KID, CALLING_KID, mapping(pipeline, **config))
        tx_id = h.start("mapper", {"items": [{"n": n} for n in range(count)]})
        if queued:
            pause("side")
        h.settle()
        for child in Transaction.objects.filter(parent_id=tx_id).order_by("fan_out_item__index")[:released]:
            h.set_switch(child.pk, "go", True)
        h.settle()
        if then is not None:
            then(h, tx_id)
        later(h, 5)
        return tx_id
    return build


def _lone_child(h):
    h.load(KID, {"name": "caller", "steps": [{"name": "call", "type": "util/call",
                                              "config": {"transaction_type": "kid"}}]})
    tx_id = h.start("caller", {})
    h.settle()
    later(h, 5)
    return tx_id


def _cancel(h, tx_id):
    tx = h.cancel(tx_id, reason="enough")
    return {"status": tx.status, "children": sorted(Transaction.objects.filter(parent_id=tx_id).values_list(
        "status", flat=True))}


def _reported(h, tx_id):
    """One child's callback got a report: it stays open (the child still awaits it)."""
    child = Transaction.objects.filter(parent_id=tx_id).order_by("fan_out_item__index").first()
    callbacks.callback_update(token=h.callback_token(child.pk, "cb"), status="start", actor="partner")


CANCEL_CHILDREN = [
    ("sleeping_children", _fanned(3), _cancel, True),
    ("queued_children", _fanned(3, queued=True), _cancel, True),
    ("some_finished", _fanned(4, released=2), _cancel, True),
    ("max_parallel_not_started", _fanned(5, max_parallel=2), _cancel, True),
    ("children_with_open_callbacks", _fanned(2, pipeline="calling-kid", then=_reported), _cancel, False),
    ("a_lone_child", _lone_child, _cancel, False),
]


@pytest.mark.parametrize("case", cases("cancel_children", CANCEL_CHILDREN))
def test_a_parents_end_cancels_its_quiet_children_the_same_in_batches(case):
    assert_agree(case)


def _fail_fast(h, tx_id):
    """One child fails: the join (all_success) is decided; the parent's re-run cancels the others."""
    child = Transaction.objects.filter(parent_id=tx_id).order_by("fan_out_item__index").first()
    h.set_switch(child.pk, "go", True)
    h.settle()
    return {"children": sorted(Transaction.objects.filter(parent_id=tx_id).values_list("status", flat=True)),
            "parent": Transaction.objects.get(pk=tx_id).status}


FAILING_KID = {"name": "failing-kid", "transaction_type": False, "steps": [
    {"name": "hold", "type": "util/wait-switch", "config": {"switch": "go"}},
    {"name": "fail", "type": "util/fail", "config": {"note": "no"}}]}


def _fanned_failing(count, **config):
    def build(h):
        h.load(FAILING_KID, mapping("failing-kid", join="all_success", **config))
        tx_id = h.start("mapper", {"items": [{"n": n} for n in range(count)]})
        h.settle()
        later(h, 5)
        return tx_id
    return build


FAIL_FAST = [
    ("running_siblings", _fanned_failing(4), _fail_fast, True),
    ("with_items_not_started", _fanned_failing(5, max_parallel=3), _fail_fast, True),
]


@pytest.mark.parametrize("case", cases("cancel_children", FAIL_FAST))
def test_fail_fast_cancels_the_running_siblings_the_same_in_batches(case):
    assert_agree(case)
