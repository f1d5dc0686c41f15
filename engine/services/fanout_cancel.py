"""The children of a decided fan-out that still run are cancelled (fail fast, or `any` decided early) by the
parent's step when it reads the decision: each in its own database transaction, locking the child and then
the fan-out, the order a child's own end locks them in (never the fan-out first, which would deadlock with
a sibling ending at the same time). A separate module from engine.services.fanout, which the follow-ups
it runs here import."""
from django.db import transaction

from engine import clock
from engine.models import FanOut, Transaction
from engine.runtime import faults
from engine.services.common import lock_tx, retry_on_deadlock
from engine.services.followups import follow_up
from engine.services.state.cancel_many import cancel_quiet_children
from engine.services.state.finish import cancel
from engine.states import TX_ACTIVE_VALUES, is_terminal


@retry_on_deadlock
def _cancel_one(*, child_id, actor, now, reason):
    with transaction.atomic():
        child = lock_tx(tx_id=child_id)
        if not is_terminal(child.status):
            follow_up(cancel(child, actor=actor, now=now, reason=reason), now=now)


def children_cancel_rest(*, parent_id, fan_out_id, actor):
    """Cancel the children of a decided fan-out that still run (fail fast, or `any` decided): the quiet ones
    in batches (engine.services.state.cancel_many, PostgreSQL), the others each in its own database
    transaction, child then fan-out, the order a child's own end locks them in. Return how many."""
    now = clock.now()
    reason = "the join was decided"
    with transaction.atomic():
        ended = cancel_quiet_children(parent_id, fan_out_id=fan_out_id, actor=actor, now=now, reason=reason)
        follow_up(*ended, now=now)
    ids = list(Transaction.objects.filter(fan_out_item__fan_out_id=fan_out_id, parent_id=parent_id,
                                          status__in=TX_ACTIVE_VALUES).values_list("pk", flat=True))
    step = FanOut.objects.filter(pk=fan_out_id).values_list("step", flat=True).first()
    for number, child_id in enumerate(ids):
        if number or ended:
            faults.hit_fan_out(faults.FANOUT_BETWEEN_CANCELS, step=step, fan_out=fan_out_id)
        _cancel_one(child_id=child_id, actor=actor, now=now, reason=reason)
    return len(ended) + len(ids)
