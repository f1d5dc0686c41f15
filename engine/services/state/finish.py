"""The end of a transaction: at a step's checkpoint, at once (a cancel, a deadline), or asked of a
running step (a cancel request, honoured at its checkpoint).

`finish_many` is the common end in one statement on PostgreSQL (for one transaction, `finish_fast`, or the
several a worker runs together), where `engine.services.endings` says
the end has no follow-up beyond the finished signal: no parent, no callback to report to, no webhook,
and not an end that cascades. The general path is `move` (engine.services.state.move). Either returns a
`Finished` record for the caller to hand to `engine.services.followups`.
"""
from engine import notices
from engine.models import StepRun
from engine.services import statements
from engine.services.common import journal
from engine.services.endings import NO_LINKS_SQL, ends_alone
from engine.services.runs import StepEnd
from engine.services.state import lite
from engine.services.state.move import Finished, check_sources, move
from engine.states import TxStatus, is_terminal

# The ends a step gives itself that the one-statement finish takes (an internal error may be retried by its
# policy: the general path decides), from the only status it finishes.
FAST_TARGETS = frozenset({TxStatus.SUCCESS, TxStatus.FAILED, TxStatus.ABORTED})
HELD = (str(TxStatus.RUNNING),)
for _target in FAST_TARGETS:
    check_sources(HELD, target=_target)
    assert ends_alone(_target), f"{_target} has follow-ups by its status: the one-statement finish cannot take it"

# One statement for one transaction's end or several's (a worker's batch): the rows are locked in id order
# first, so two statements over the same transactions (a heartbeat) never deadlock.
FINISH_SQL = f"""
WITH x AS MATERIALIZED (
    SELECT * FROM jsonb_to_recordset(%(items)s) AS x(
        tx_id text, token text, seq integer, visit integer, deadline_at timestamptz, run_id bigint, target text,
        run_status text, outcome text, actor text, note text, error text, output jsonb, logs jsonb)
), locked AS MATERIALIZED (
    SELECT t.id FROM engine_transaction t WHERE t.id IN (SELECT tx_id FROM x) ORDER BY t.id FOR NO KEY UPDATE
), held AS (
    UPDATE engine_transaction t SET status = x.target, updated_at = %(now)s, lease_token = NULL,
           lease_expires_at = NULL, note = x.note, output = x.output, completed_at = %(now)s
      FROM x
     WHERE t.id = x.tx_id AND t.id IN (SELECT id FROM locked) AND t.lease_token = x.token
       AND t.status IN {statements.sql_values(HELD)}
       AND t.step_seq = x.seq AND t.visit = x.visit AND NOT t.cancel_requested
       AND t.deadline_at IS NOT DISTINCT FROM x.deadline_at AND {NO_LINKS_SQL}
    RETURNING t.id, t.step_name, x.*
), ended AS (
    UPDATE engine_steprun s SET status = h.run_status, outcome = h.outcome, output = h.output, note = h.note,
           error = h.error, logs = h.logs, ended_at = %(now)s
      FROM held h
     WHERE s.id = h.run_id
), journaled AS (
    INSERT INTO engine_journalentry (tx_id, at, kind, actor, step, data)
    SELECT id, %(now)s, 'status', actor, step_name,
           jsonb_build_object('from', 'running', 'to', target, 'note', note)
      FROM held
), unslept AS (
    DELETE FROM engine_sleeper WHERE tx_id IN (SELECT id FROM held)
)
SELECT id, target, CASE WHEN %(notify)s THEN pg_notify(%(channel)s, id) END FROM held
"""

# The same finish on SQLite (in the caller's database transaction; no NOTIFY there: engine.services.state.lite).
FINISH_SQLITE = lite.finish_sql(HELD, NO_LINKS_SQL)


def finish_fast(run, *, target, actor, output, status, note, error, logs, now, outcome=None):
    """End the transaction with `target` at `run`'s checkpoint, its step run with `status` (and `outcome`, a
    named outcome's name), in one statement (PostgreSQL): its
    `Finished` record, or None when a condition of this path does not hold (then nothing was written)."""
    return finish_many([StepEnd(run, target=target, actor=actor, output=output, status=status, note=note,
                                error=error, logs=logs, outcome=outcome)], now=now)[0]


def finish_many(ends, *, now):
    """End several transactions at their steps' checkpoints (`StepEnd`s with a target) in one statement
    (PostgreSQL): for each, in order, its `Finished` record, or None where a condition of this path does not
    hold (then nothing was written for it, and the general path decides)."""
    taken = [end for end in ends if end.target in FAST_TARGETS and statements.run_paths()
             and (end.run.deadline_at is None or end.run.deadline_at > now)]
    if not taken:
        return [None] * len(ends)
    if statements.is_sqlite():
        found = lite.finish(taken, sql=FINISH_SQLITE, now=now)
        return [Finished(tx_id=end.run.tx_id, owner=end.run.owner, status=found[end.run.tx_id])
                if end.run.tx_id in found else None for end in ends]
    items = [{"tx_id": end.run.tx_id, "token": end.run.token, "seq": end.run.seq, "visit": end.run.visit,
              "deadline_at": statements.iso(end.run.deadline_at), "run_id": end.run.run_id, "target": str(end.target),
              "run_status": end.status, "outcome": end.outcome, "actor": end.actor, "note": end.note,
              "error": end.error, "output": end.output, "logs": end.logs or []} for end in taken]
    found = {tx_id: target for tx_id, target, _ in statements.rows(FINISH_SQL, {
        "items": statements.jsonb(items), "now": now, "notify": notices.sends_notices(),
        "channel": notices.FINISHED_CHANNEL})}
    return [Finished(tx_id=end.run.tx_id, owner=end.run.owner, status=found[end.run.tx_id])
            if end.run.tx_id in found else None for end in ends]


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
