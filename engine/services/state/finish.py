"""The end of a transaction: at a step's checkpoint, at once (a cancel, a deadline), or asked of a
running step (a cancel request, honoured at its checkpoint).

`finish_fast` is the common end in one statement on PostgreSQL, where `engine.services.endings` says
the end has no follow-up beyond the finished signal: no parent, no callback to report to, no webhook,
and not an end that cascades. The general path is `move` (engine.services.state.move). Either returns a
`Finished` record for the caller to hand to `engine.services.followups`.
"""
from engine import notices
from engine.models import StepRun
from engine.services import statements
from engine.services.common import journal
from engine.services.endings import NO_LINKS_SQL, ends_alone
from engine.services.state.move import Finished, check_sources, move
from engine.states import TxStatus, is_terminal

# The ends a step gives itself that the one-statement finish takes (an internal error may be retried by its
# policy: the general path decides), from the only status it finishes.
FAST_TARGETS = frozenset({TxStatus.SUCCESS, TxStatus.FAILED, TxStatus.ABORTED})
HELD = (str(TxStatus.RUNNING),)
for _target in FAST_TARGETS:
    check_sources(HELD, target=_target)
    assert ends_alone(_target), f"{_target} has follow-ups by its status: the one-statement finish cannot take it"

FINISH_SQL = f"""
WITH held AS (
    UPDATE engine_transaction SET status = %(target)s, updated_at = %(now)s, lease_token = NULL,
           lease_expires_at = NULL, note = %(note)s, output = %(output)s, completed_at = %(now)s
     WHERE id = %(tx_id)s AND lease_token = %(token)s AND status IN {statements.sql_values(HELD)}
       AND step_seq = %(seq)s AND visit = %(visit)s AND NOT cancel_requested
       AND deadline_at IS NOT DISTINCT FROM %(deadline_at)s AND {NO_LINKS_SQL}
    RETURNING id, step_name
), ended AS (
    UPDATE engine_steprun SET status = %(status)s, outcome = %(outcome)s, output = %(output)s, note = %(note)s,
           error = %(error)s, logs = %(logs)s, ended_at = %(now)s
     WHERE id = %(run_id)s AND EXISTS (SELECT 1 FROM held)
), journaled AS (
    INSERT INTO engine_journalentry (tx_id, at, kind, actor, step, data)
    SELECT id, %(now)s, 'status', %(actor)s, step_name,
           jsonb_build_object('from', 'running', 'to', %(target)s::text, 'note', %(note)s::text)
      FROM held
), unslept AS (
    DELETE FROM engine_sleeper WHERE tx_id IN (SELECT id FROM held)
)
SELECT id, CASE WHEN %(notify)s THEN pg_notify(%(channel)s, id) END FROM held
"""


def finish_fast(run, *, target, actor, output, status, note, error, logs, now, outcome=None):
    """End the transaction with `target` at `run`'s checkpoint, its step run with `status` (and `outcome`, a
    named outcome's name), in one statement (PostgreSQL): its
    `Finished` record, or None when a condition of this path does not hold (then nothing was written)."""
    if target not in FAST_TARGETS or not statements.fast_paths():
        return None
    if run.deadline_at is not None and run.deadline_at <= now:
        return None
    found = statements.rows(FINISH_SQL, {
        "tx_id": run.tx_id, "token": run.token, "seq": run.seq, "visit": run.visit, "deadline_at": run.deadline_at,
        "run_id": run.run_id, "target": str(target), "status": status, "outcome": outcome, "actor": actor, "now": now,
        "note": note, "error": error, "output": statements.jsonb(output), "logs": statements.jsonb(logs or []),
        "notify": notices.sends_notices(), "channel": notices.FINISHED_CHANNEL,
    })
    if not found:
        return None
    return Finished(tx_id=run.tx_id, owner=run.owner, status=str(target))


def finish_now(tx, *, target, actor, now, note=None, **data):
    """End an unfinished, not running transaction (locked) at once, keeping its last output: its record."""
    last_input = StepRun.objects.filter(tx_id=tx.pk).order_by("-seq").values_list("input", flat=True).first()
    output = last_input if last_input is not None else tx.input
    return move(tx, target=target, actor=actor, now=now, note=note, output=output, **data)


def cancel(tx, *, actor, now, reason=""):
    """Cancel `tx` (locked, unfinished): at once if queued or sleeping (its `Finished` record); if
    running, ask its step to stop at its checkpoint (None)."""
    if tx.status != TxStatus.RUNNING:
        return finish_now(tx, target=TxStatus.CANCELLED, actor=actor, now=now,
                          note=f"Cancelled: {reason}" if reason else "Cancelled", reason=reason)
    if not tx.cancel_requested:
        tx.cancel_requested = True
        tx.updated_at = now
        tx.save(update_fields=["cancel_requested", "updated_at"])
        journal(tx_id=tx.pk, kind="cancel_requested", actor=actor, at=now, step=tx.step_name, reason=reason)
    return None


def finish(tx, *, target, actor, now, note=None, output=None, **data):
    """End `tx` (locked) with `target`, an end, through the general writer: its `Finished` record."""
    if not is_terminal(target):
        raise ValueError(f"{target} is not an end")
    return move(tx, target=target, actor=actor, now=now, note=note, output=output, **data)
