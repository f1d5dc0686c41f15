"""Why a transaction is not moving: one line (text and level) and the facts behind it, for every status.

`transaction_why` reads the facts for one transaction, `transactions_why` for a page of rows in a fixed
number of queries; `why_line` turns facts into the line and reads nothing."""
from dataclasses import dataclass, field
from datetime import timedelta

from django.db.models import Count, IntegerField, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce

from engine import clock, conf
from engine.models import Node, NodeGroup, Sleeper, StepRun, Transaction
from engine.selectors.fan_outs import fan_out_group
from engine.states import TxStatus

# A waited-on child is read for its status only.
CHILD_PAYLOAD = ("child__input", "child__output", "child__metadata", "child__progress", "child__pending_input")
# A node beats every 5 s: three missed beats make its heartbeat stale.
STALE_SECONDS = 15.0
UNITS = (("d", 86400), ("h", 3600), ("min", 60), ("s", 1))
FINISHED_WORDS = {
    TxStatus.SUCCESS: ("succeeded", "ok"),
    TxStatus.FAILED: ("failed", "error"),
    TxStatus.ABORTED: ("was aborted", "error"),
    TxStatus.TIMEOUT: ("timed out", "warn"),
    TxStatus.CANCELLED: ("was cancelled", "warn"),
    TxStatus.INTERNAL_ERROR: ("ended with an internal error", "error"),
}


def humanize_seconds(seconds):
    """Format a length of time in its largest unit and the next one if not zero: "45 s", "4 min", "3 h",
    "1 d 21 h" (sign ignored, rounded down to the second)."""
    total = int(abs(seconds))
    for index, (unit, size) in enumerate(UNITS):
        if total >= size or unit == "s":
            text = f"{total // size} {unit}"
            if index + 1 < len(UNITS):
                next_unit, next_size = UNITS[index + 1]
                rest = (total % size) // next_size
                if rest:
                    text += f" {rest} {next_unit}"
            return text
    return "0 s"


def humanize(delta):
    """Format a timedelta as `humanize_seconds` does."""
    return humanize_seconds(delta.total_seconds())


def stamp(moment):
    """Format a moment as the console writes it: "2025-01-31 14:05:09 UTC"."""
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment is not None else ""


def relative(moment, *, now):
    """Format `moment` relative to `now`: "in 4 min" for the future, "3 h ago" for the past, "just now"
    within a second."""
    seconds = (moment - now).total_seconds()
    if abs(seconds) < 1:
        return "just now"
    return f"in {humanize_seconds(seconds)}" if seconds > 0 else f"{humanize_seconds(seconds)} ago"


@dataclass(frozen=True)
class Why:
    """The answer to "why is it not moving?": `level` is ok, info, warn or error; `code` names the case."""

    text: str
    level: str
    code: str
    facts: dict = field(default_factory=dict)


@dataclass
class Facts:
    """What the line needs beyond the transaction row; read by `read_facts`."""

    sleeper: object = None
    group: object = None
    live_nodes: int = 0
    ahead: int = 0
    running_in_group: int = 0
    node: object = None
    step_started_at: object = None


def _times_out(tx, sleeper, now):
    ends = [moment for moment in (sleeper.timeout_at if sleeper else None, tx.deadline_at) if moment is not None]
    if not ends:
        return ""
    return f"; times out {relative(min(ends), now=now)}"


def _sleeping(tx, sleeper, now):
    if sleeper is None:
        return Why("sleeping (its wait is being recorded)", "info", "sleeping", {})
    facts = {"reason": sleeper.reason, "step": sleeper.step, "since_at": sleeper.since,
             "wake_at": sleeper.wake_at, "timeout_at": sleeper.timeout_at}
    since = f"since {humanize(now - sleeper.since)}"
    tail = _times_out(tx, sleeper, now)
    if sleeper.reason == "switch":
        kind = "global switch" if sleeper.scope == "global" else "switch"
        facts.update(switch=sleeper.switch, scope=sleeper.scope)
        return Why(f"waiting for {kind} `{sleeper.switch}` {since}{tail}", "info", "switch", facts)
    if sleeper.reason == "callback":
        callback = sleeper.callback
        name = callback.name if callback else "?"
        state = f" (last report: {callback.status})" if callback else ""
        facts.update(callback=name)
        return Why(f"waiting for callback `{name}`{state} {since}{tail}", "info", "callback", facts)
    if sleeper.reason == "child":
        child = sleeper.child
        state = f" ({child.status})" if child else ""
        facts.update(child_tx_id=sleeper.child_id)
        return Why(f"waiting for child {sleeper.child_id}{state} {since}{tail}", "info", "child", facts)
    if sleeper.reason == "children":
        return _children(sleeper, facts, tail)
    if sleeper.wake_at is None:
        return Why(f"sleeping in step `{sleeper.step}` {since}{tail}", "info", "timer", facts)
    if sleeper.wake_at <= now:
        return Why(f"due since {humanize(now - sleeper.wake_at)} (was sleeping until {stamp(sleeper.wake_at)}); "
                   "the waker queues it on its next tick", "warn", "timer", facts)
    return Why(f"sleeping until {stamp(sleeper.wake_at)} ({relative(sleeper.wake_at, now=now)}){tail}",
               "info", "timer", facts)


def _children(sleeper, facts, tail):
    """The line of a step waiting for a fan-out's join: ChildGroup.describe's, the one text of it (the step's
    own view and the docs say the same), plus when the wait times out."""
    if sleeper.fan_out is None:
        return Why(f"waiting for the children of step `{sleeper.step}`{tail}", "info", "children", facts)
    facts.update(fan_out=sleeper.fan_out_id)
    return Why(f"{fan_out_group(fan=sleeper.fan_out).describe()}{tail}", "info", "children", facts)


def _queued(tx, facts, now):
    group = facts.group
    name = tx.node_group_id
    waited = humanize(now - tx.queued_at) if tx.queued_at else "?"
    info = {"group": name, "ahead": facts.ahead, "live_nodes": facts.live_nodes, "since_at": tx.queued_at}
    if group is not None and group.paused:
        return Why(f"queued for {waited}: its node group `{name}` is paused", "warn", "paused", info)
    if facts.live_nodes == 0:
        return Why(f"queued for {waited}: no live node serves its node group `{name}`", "error", "no_node", info)
    limit = group.max_concurrency if group is not None else None
    if limit is not None and facts.running_in_group >= limit:
        info.update(running=facts.running_in_group, max_concurrency=limit)
        return Why(f"queued for {waited}: node group `{name}` is at its concurrency limit "
                   f"({facts.running_in_group} of {limit} running)", "warn", "at_limit", info)
    if facts.ahead:
        return Why(f"queued for {waited}, in line behind {facts.ahead} queued of node group `{name}`",
                   "info", "behind", info)
    return Why(f"queued for {waited}, next in line for node group `{name}`", "info", "next", info)


def _running(tx, facts, now):
    started = facts.step_started_at or tx.updated_at
    info = {"node": tx.node, "step": tx.step_name, "since_at": started, "lease_expires_at": tx.lease_expires_at}
    text = f"running step `{tx.step_name}` on node {tx.node or '?'} for {humanize(now - started)}"
    if tx.cancel_requested:
        text += "; cancel requested, it ends when the step returns"
    node = facts.node
    if tx.lease_expires_at is not None and tx.lease_expires_at <= now:
        return Why(f"{text}; its lease expired {humanize(now - tx.lease_expires_at)} ago, "
                   "so it will be queued again", "error", "stale", info)
    if node is None:
        return Why(f"{text}; node {tx.node or '?'} is not registered (its heartbeat is missing)",
                   "warn", "stale", info)
    info["last_seen_at"] = node.last_seen_at
    silent = (now - node.last_seen_at).total_seconds()
    if silent > STALE_SECONDS:
        return Why(f"{text}; the node's heartbeat is stale (last seen {humanize_seconds(silent)} ago)",
                   "warn", "stale", info)
    return Why(text, "info", "running", info)


def _finished(tx, now):
    verb, level = FINISHED_WORDS[TxStatus(tx.status)]
    ended = tx.completed_at or tx.updated_at
    text = f"{verb} {relative(ended, now=now)} ({stamp(ended)}) at step `{tx.step_name}`"
    if tx.note:
        text += f": {tx.note}"
    return Why(text, level, str(tx.status), {"completed_at": ended, "step": tx.step_name})


def why_line(*, tx, facts, now):
    """Return the one line for `tx` from already read `facts` (reads nothing)."""
    if tx.status == TxStatus.SLEEPING:
        return _sleeping(tx, facts.sleeper, now)
    if tx.status == TxStatus.QUEUED:
        return _queued(tx, facts, now)
    if tx.status == TxStatus.RUNNING:
        return _running(tx, facts, now)
    return _finished(tx, now)


def read_facts(*, txs, now, sleepers=None):
    """Read the facts for each of `txs` by tx id, in at most six queries whatever their number.

    `sleepers` (tx id -> Sleeper with callback, child and fan_out) may be passed when the caller read them."""
    facts = {tx.pk: Facts() for tx in txs}
    sleeping = [tx.pk for tx in txs if tx.status == TxStatus.SLEEPING]
    if sleepers is None and sleeping:
        rows = (Sleeper.objects.select_related("callback", "child", "fan_out").defer(*CHILD_PAYLOAD)
                .filter(tx_id__in=sleeping))
        sleepers = {s.tx_id: s for s in rows}
    for tx_id in sleeping:
        facts[tx_id].sleeper = (sleepers or {}).get(tx_id)
    queued = [tx for tx in txs if tx.status == TxStatus.QUEUED]
    if queued:
        _queued_facts(queued, facts, now)
    running = [tx for tx in txs if tx.status == TxStatus.RUNNING]
    if running:
        _running_facts(running, facts)
    return facts


def _queued_facts(queued, facts, now):
    names = {tx.node_group_id for tx in queued}
    groups = {g.name: g for g in NodeGroup.objects.filter(name__in=names)}
    seen_after = now - timedelta(seconds=conf.get("NODE_GONE_SECONDS"))
    live = dict(Node.objects.filter(group_id__in=names, stopping=False, last_seen_at__gte=seen_after)
                .values_list("group_id").annotate(n=Count("node_id")).order_by())
    limited = [name for name, g in groups.items() if g.max_concurrency is not None]
    running = dict(Transaction.objects.filter(node_group_id__in=limited, status=TxStatus.RUNNING)
                   .values_list("node_group_id").annotate(n=Count("id")).order_by()) if limited else {}
    ahead = (Transaction.objects.filter(node_group_id=OuterRef("node_group_id"), status=TxStatus.QUEUED,
                                        queued_at__lt=OuterRef("queued_at"))
             .order_by().values("node_group_id").annotate(n=Count("id")).values("n"))
    counts = dict(Transaction.objects.filter(pk__in=[tx.pk for tx in queued])
                  .annotate(ahead=Coalesce(Subquery(ahead, output_field=IntegerField()), 0))
                  .values_list("id", "ahead"))
    for tx in queued:
        found = facts[tx.pk]
        found.group = groups.get(tx.node_group_id)
        found.live_nodes = live.get(tx.node_group_id, 0)
        found.running_in_group = running.get(tx.node_group_id, 0)
        found.ahead = counts.get(tx.pk, 0)


def _running_facts(running, facts):
    nodes = {n.node_id: n for n in Node.objects.filter(node_id__in={tx.node for tx in running if tx.node})}
    pairs = Q()
    for tx in running:
        pairs |= Q(tx_id=tx.pk, seq=tx.step_seq)
    started = {row[0]: row[1] for row in StepRun.objects.filter(pairs).values_list("tx_id", "started_at")}
    for tx in running:
        facts[tx.pk].node = nodes.get(tx.node)
        facts[tx.pk].step_started_at = started.get(tx.pk)


def transactions_why(*, txs, now=None, sleepers=None):
    """Return the Why of each of `txs` (a page of rows), by tx id, in a fixed number of queries."""
    now = now or clock.now()
    facts = read_facts(txs=txs, now=now, sleepers=sleepers)
    return {tx.pk: why_line(tx=tx, facts=facts[tx.pk], now=now) for tx in txs}


def transaction_why(*, tx, now=None, sleeper=None):
    """Return the Why of one transaction."""
    sleepers = {tx.pk: sleeper} if sleeper is not None else None
    return transactions_why(txs=[tx], now=now, sleepers=sleepers)[tx.pk]
