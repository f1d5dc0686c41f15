"""Version moves: the sleeping and queued transactions of a pipeline move from one of its versions to another.

A dry run first (`version_move_preview`): per step the transactions stand at, whether it exists in the target
version, where they resume and what changes there (step type, config, retry, routes), and a page of the
transactions themselves. The move is a bulk job (engine.services.bulk) that moves each transaction in its own
database transaction (`transaction_move_version`), fenced by a conditional update: a transaction a node has
claimed since (running), or moved, finished or rewound, is skipped and keeps its version.
"""
from django.db import transaction
from django.db.models import Count

from engine import clock
from engine.errors import (
    InvalidRequest,
    StepNotInVersion,
    VersionMoved,
    VersionNotFound,
)
from engine.limits import MOVE_PREVIEW_MAX
from engine.models import PipelineVersion, Transaction
from engine.runtime import faults
from engine.selectors import in_owners
from engine.services.common import (
    dispatch_on_commit,
    journal,
    lock_tx,
    retry_on_deadlock,
)
from engine.services.runs import definition_of
from engine.states import TX_MOVABLE, TX_MOVABLE_VALUES, TxStatus

COUNT_CAP = 100_000


def versions_of(*, pipeline, from_version, to_version):
    """The two versions' definitions, checked to be versions of `pipeline` and different."""
    found = {}
    for field, version in (("from_version", from_version), ("to_version", to_version)):
        try:  # versions never change: each is read once per process (a move checks them for every transaction)
            found[version] = definition_of(version_id=version)
        except PipelineVersion.DoesNotExist:
            found[version] = None
        if found[version] is None or found[version].get("name") != pipeline:
            raise VersionNotFound(f"Pipeline {pipeline!r} has no version {version!r}.", field=field)
    if from_version == to_version:
        raise InvalidRequest("The versions are the same.", fields={"to_version": ["Another version than from_version."]})
    return found[from_version], found[to_version]


def _routes(steps, index):
    """Where each outcome of step `index` leads: its `on`, and after success without one the next step."""
    step = steps[index]
    routes = dict(step.get("on") or {})
    routes.setdefault("success", steps[index + 1]["name"] if index + 1 < len(steps) else "end")
    return routes


def step_changes(old, new):
    """For each step of definition `old`: whether `new` has it, and what differs there (a list of phrases)."""
    new_steps = new["steps"]
    where = {step["name"]: index for index, step in enumerate(new_steps)}
    found = {}
    for index, step in enumerate(old["steps"]):
        name = step["name"]
        if name not in where:
            found[name] = {"exists": False, "changes": []}
            continue
        other = new_steps[where[name]]
        changes = []
        if step["type"] != other["type"]:
            changes.append(f"type {step['type']} -> {other['type']}")
        for key in ("config", "retry"):
            if step.get(key) != other.get(key):
                changes.append(key)
        before, after = _routes(old["steps"], index), _routes(new_steps, where[name])
        changes += [f"on {outcome}: {before.get(outcome, '-')} -> {after.get(outcome, '-')}"
                    for outcome in sorted(set(before) | set(after)) if before.get(outcome) != after.get(outcome)]
        found[name] = {"exists": True, "changes": changes}
    return found


def movable(*, pipeline, version, owners=None):
    """The transactions a move of `pipeline`'s `version` applies to (within `owners`, None: every owner)."""
    queryset = Transaction.objects.filter(pipeline_name=pipeline, version_id=version, status__in=TX_MOVABLE_VALUES)
    return in_owners(queryset=queryset, owners=owners)


def version_move_preview(*, pipeline, from_version, to_version, owners=None, limit=100):
    """The dry run of a move: counts per step (of at most COUNT_CAP transactions) and the newest `limit` rows,
    each with whether it would move, where it would resume and what would change there."""
    old, new = versions_of(pipeline=pipeline, from_version=from_version, to_version=to_version)
    changes = step_changes(old, new)
    queryset = movable(pipeline=pipeline, version=from_version, owners=owners)
    capped = Transaction.objects.filter(pk__in=queryset.values("pk")[:COUNT_CAP + 1])
    counts = capped.values("step_name", "status").annotate(n=Count("pk")).order_by("step_name", "status")
    by_step = {}
    for row in counts:
        entry = by_step.setdefault(row["step_name"], {"step": row["step_name"], "sleeping": 0, "queued": 0,
                                                     **_verdict(changes, row["step_name"])})
        entry[row["status"]] = row["n"]
    total = sum(entry["sleeping"] + entry["queued"] for entry in by_step.values())
    will_move = sum(entry["sleeping"] + entry["queued"] for entry in by_step.values() if entry["moves"])
    rows = queryset.select_related("sleeper").order_by("-created_at", "-id")[:max(0, min(limit, MOVE_PREVIEW_MAX))]
    return {
        "pipeline": pipeline, "from_version": from_version, "to_version": to_version,
        "count": min(total, COUNT_CAP), "more": total > COUNT_CAP, "moves": will_move, "stays": total - will_move,
        "steps": list(by_step.values()),
        "transactions": [{"tx_id": tx.pk, "owner": tx.owner_id, "status": tx.status, "step": tx.step_name,
                          "waiting": _waiting(tx), **_verdict(changes, tx.step_name)} for tx in rows],
    }


def _waiting(tx):
    sleeper = getattr(tx, "sleeper", None) if tx.status == TxStatus.SLEEPING else None
    return sleeper.reason if sleeper is not None else None


def _verdict(changes, step):
    found = changes.get(step, {"exists": False, "changes": []})
    return {"moves": found["exists"], "resumes_at": step if found["exists"] else None,
            "changes": found["changes"],
            "why": None if found["exists"] else f"step {step!r} is not in the target version"}


@retry_on_deadlock
def transaction_move_version(*, tx_id, from_version, to_version, actor, reason="", owner=None):
    """Move one sleeping or queued transaction from `from_version` to `to_version` of its pipeline, in its own
    database transaction: it resumes at its current step there. VersionMoved when a node claimed it since (or it
    moved or ended), StepNotInVersion when the target has no such step; either changes nothing."""
    now = clock.now()
    with transaction.atomic():
        tx = lock_tx(tx_id=tx_id, owner=owner)
        if tx.status not in TX_MOVABLE or tx.version_id != from_version:
            raise VersionMoved(status=str(tx.status), version=tx.version_id)
        old, new = versions_of(pipeline=tx.pipeline_name, from_version=from_version, to_version=to_version)
        found = step_changes(old, new).get(tx.step_name, {"exists": False})
        if not found["exists"]:
            raise StepNotInVersion(f"The target version has no step {tx.step_name!r}.", step=tx.step_name)
        faults.hit(faults.VERSION_MOVE_AFTER_LOCK, tx)  # the row locked and checked, not yet moved
        # The fence (and on SQLite the only one): still between steps, still on the version it was read on.
        moved = Transaction.objects.filter(pk=tx.pk, status__in=TX_MOVABLE_VALUES, version_id=from_version).update(
            version_id=to_version, updated_at=now)
        if not moved:
            raise VersionMoved()
        if tx.status == TxStatus.QUEUED:  # a claim that passed it by while it was locked may have found no other
            dispatch_on_commit(node_group=tx.node_group_id)
        journal(tx_id=tx.pk, kind="version_move", actor=actor, at=now, step=tx.step_name, reason=reason,
                status=str(tx.status), from_version=from_version, to_version=to_version, changes=found["changes"])
    tx.version_id = to_version
    return tx
