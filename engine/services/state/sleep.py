"""A step goes to sleep: its sleeper (what wakes it) is written and the transaction moves to sleeping, in
the commit that ends its step run. Whether it must run again at once instead is the caller's question
(`engine.services.routing`), asked under the same lock."""
from engine.models import Callback, Sleeper
from engine.services.state.move import move
from engine.states import TxStatus


def sleep(tx, *, run, wait, now):
    """Write the sleeper of `wait` for `tx` (locked, running under `run`'s lease) and move it to sleeping."""
    callback = Callback.objects.filter(tx_id=tx.pk, name=wait.callback).first() if wait.callback else None
    next_time = wait.next_time
    Sleeper.objects.create(
        tx=tx, owner_id=tx.owner_id, step=run.step_name, reason=wait.reason, wake_at=next_time,
        timeout_at=wait.timeout_at, switch=wait.switch, scope=wait.scope,
        callback=callback, child_id=wait.child, fan_out_id=wait.children, poll_seconds=wait.poll_seconds, since=now,
    )
    move(tx, target=TxStatus.SLEEPING, actor=f"step:{run.step_name}", now=now, reason=wait.reason,
         wake_at=next_time.isoformat() if next_time else None, switch=wait.switch, callback=wait.callback,
         child=wait.child, note=wait.note,
         **({"children": wait.children} if wait.children is not None else {}))
