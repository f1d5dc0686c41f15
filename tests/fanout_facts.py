"""What must hold of a fan-out once everything settled, read from the database (issue 19): the crash tests
(tests/runtime/test_fanout_crashes.py, through tests.runtime.driver) and the chaos scenario (through its agent)
both check it.

- every item has at most one child, the first `started` exactly one, and the parent no other fan-out child
  (no item started twice, none lost);
- the counters equal the counted items (succeeded + failed = the items with a status), each counted status
  is its child's;
- the join was decided once; the parent was woken (or re-queued at its checkpoint) once for it and ended once;
- no child is left running.
"""
from collections import Counter

from django.db.models import Count

from engine.models import FanOut, FanOutItem, JournalEntry, StepRun, Transaction
from engine.states import TX_TERMINAL

TERMINAL = {str(status) for status in TX_TERMINAL}


def fanout_facts(parent_id):
    """Return the figures of the fan-outs of `parent_id` (JSON-able)."""
    parent = Transaction.objects.get(pk=parent_id)
    fans = list(FanOut.objects.filter(tx_id=parent_id).order_by("pk"))
    fan = fans[0] if fans else None
    items = FanOutItem.objects.filter(fan_out__tx_id=parent_id)
    children = Transaction.objects.filter(parent_id=parent_id)
    journal = list(JournalEntry.objects.filter(tx_id=parent_id).values_list("kind", "data"))
    successful = StepRun.objects.filter(tx__parent_id=parent_id, status="success")
    child_runs = Counter(successful.values_list("tx_id", flat=True))
    workers = set(successful.values_list("node", flat=True))  # host:node pid/worker pid
    return {
        "parent_status": parent.status,
        "fan_outs": len(fans),
        "total": fan.total if fan else None,
        "started": fan.started if fan else None,
        "succeeded": fan.succeeded if fan else None,
        "failed": fan.failed if fan else None,
        "outcome": fan.outcome if fan else None,
        "decided": bool(fan and fan.decided_at),
        "items": items.count(),
        "items_with_child": items.filter(child__isnull=False).count(),
        "started_items_without_child": items.filter(index__lt=fan.started, child__isnull=True).count() if fan else 0,
        "unstarted_items_with_child": items.filter(index__gte=fan.started, child__isnull=False).count() if fan else 0,
        "children": children.count(),
        "children_without_item": children.filter(fan_out_item__isnull=True).count(),
        "counted": items.filter(status__isnull=False).count(),
        "counted_success": items.filter(status="success").count(),
        "counted_unlike_child": sum(1 for status, child_status in items.filter(status__isnull=False).values_list(
            "status", "child__status") if status != child_status),
        "children_by_status": dict(children.values_list("status").annotate(n=Count("pk")).order_by()),
        "children_active": children.exclude(status__in=TERMINAL).count(),
        "children_successful_step_runs": dict(Counter(child_runs.values())),
        "children_nodes": len({(worker or "").split("/")[0] for worker in workers}),
        "children_workers": len(workers),
        "woken_for_join": sum(kind == "woken" and data.get("reason") == "children" for kind, data in journal),
        "requeued_for_join": sum(kind == "status" and data.get("to") == "queued"
                                 and "join" in (data.get("why") or "") for kind, data in journal),
        "ended": sum(kind == "status" and data.get("to") in TERMINAL for kind, data in journal),
    }


def fanout_problems(facts):
    """Return every rule above that `facts` (of a settled parent) breaks, as text; [] when all held."""
    problems = []

    def rule(holds, text):
        if not holds:
            problems.append(text)

    rule(facts["fan_outs"] == 1, f"{facts['fan_outs']} fan-outs instead of 1")
    if facts["fan_outs"] != 1:
        return problems
    rule(facts["items"] == facts["total"], f"{facts['items']} items for a total of {facts['total']}")
    rule(facts["items_with_child"] == facts["started"] == facts["children"],
         f"{facts['items_with_child']} items with a child, {facts['started']} started, {facts['children']} children")
    rule(not facts["started_items_without_child"], f"{facts['started_items_without_child']} started items lost")
    rule(not facts["unstarted_items_with_child"], f"{facts['unstarted_items_with_child']} items past `started` "
                                                  "with a child")
    rule(not facts["children_without_item"], f"{facts['children_without_item']} children of no item (started twice)")
    rule(facts["succeeded"] + facts["failed"] == facts["counted"],
         f"counters {facts['succeeded']} + {facts['failed']} for {facts['counted']} counted items")
    rule(facts["succeeded"] == facts["counted_success"],
         f"{facts['succeeded']} succeeded counted for {facts['counted_success']} successful items")
    rule(not facts["counted_unlike_child"], f"{facts['counted_unlike_child']} items counted unlike their child")
    rule(facts["decided"] and facts["outcome"] in ("success", "failed"), f"join not decided: {facts['outcome']}")
    rule(facts["woken_for_join"] + facts["requeued_for_join"] == 1,
         f"parent woken {facts['woken_for_join']} and re-queued {facts['requeued_for_join']} times for the join")
    rule(facts["ended"] == 1 and facts["parent_status"] in TERMINAL,
         f"parent {facts['parent_status']}, ended {facts['ended']} times")
    rule(not facts["children_active"], f"{facts['children_active']} children still active")
    return problems
