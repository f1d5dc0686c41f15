"""Reads shared by the API, the console, the client and the test helper; nothing here writes.

The core reads are here; each console area keeps its own module beside this one."""
import re

from django.conf import settings
from django.db import connection
from django.db.models import Count, Q
from django.urls import get_script_prefix, get_urlconf, reverse

from engine.errors import NotFound, TransactionNotFound
from engine.models import (
    GlobalSwitch,
    JournalEntry,
    Node,
    NodeGroup,
    Owner,
    Pipeline,
    PipelineVersion,
    Sleeper,
    StepRun,
    Switch,
    Transaction,
)
from engine.selectors.formats import iso
from engine.selectors.waiting import open_callbacks_of, waiting_as_dict
from engine.states import TX_TERMINAL_VALUES, TxStatus
from engine.steps import registry


def transaction_links(*, tx_id):
    """Return the transaction's API path and its console page, by URL name. The console link has always been
    written without the trailing slash (its page redirects to it); clients and webhooks compare it as is.
    An id of plain characters (which reverse() writes as they are) fills the two paths reversed once per URL
    configuration and script prefix: reverse() costs a tenth of a millisecond each time, on every start."""
    if isinstance(tx_id, str) and PLAIN_ID.fullmatch(tx_id):
        key = (get_script_prefix(), get_urlconf() or settings.ROOT_URLCONF)
        if key not in _link_templates:
            _link_templates[key] = _links(LINK_MARK)
        return {name: path.replace(LINK_MARK, tx_id) for name, path in _link_templates[key].items()}
    return _links(tx_id)


PLAIN_ID = re.compile(r"[A-Za-z0-9_-]+")
LINK_MARK = "datp-link-mark"
_link_templates = {}


def _links(tx_id):
    console = reverse("mondat:transaction", kwargs={"tx_id": tx_id}).removesuffix("/")
    return {"self": reverse("api:transaction", kwargs={"tx_id": tx_id}), "console": console}


# `prefetched` for a transaction its start has just created: no sleeper and no switch yet, nothing to read.
JUST_STARTED = (None, ())


def transaction_as_dict(*, tx, payload=True, prefetched=None, callback_url=False, open_callbacks=None):
    """Return the transaction object of api.md. `prefetched` is (sleeper or None, [Switch]) when the caller
    already read them (a list page reads them for every row at once), like `open_callbacks`; `callback_url`:
    see waiting_as_dict."""
    if prefetched is not None:
        sleeper, switch_rows = prefetched
    else:
        sleeper = None
        if tx.status == TxStatus.SLEEPING:
            sleeper = Sleeper.objects.select_related("callback", "fan_out").filter(tx_id=tx.pk).first()
        switch_rows = Switch.objects.filter(tx_id=tx.pk)
    switches = {s.name: s.value for s in sorted(switch_rows, key=lambda s: s.name)}
    if sleeper is not None and sleeper.switch and sleeper.scope == "transaction":
        switches.setdefault(sleeper.switch, None)
    result = {
        "tx_id": tx.pk,
        "owner": tx.owner_id,
        "external_id": tx.external_id,
        "transaction_type": tx.pipeline_name,
        "pipeline_version": tx.version_id,
        "node_group": tx.node_group_id,
        "status": tx.status,
        "note": tx.note,
        "waiting": waiting_as_dict(sleeper=sleeper, callback_url=callback_url, open_callbacks=open_callbacks),
        "switches": switches,
        "deadline_at": iso(tx.deadline_at),
        "cancel_requested": tx.cancel_requested,
        "parent_tx_id": tx.parent_id,
        "created_at": iso(tx.created_at),
        "updated_at": iso(tx.updated_at),
        "completed_at": iso(tx.completed_at),
        "links": transaction_links(tx_id=tx.pk),
    }
    if payload:
        result.update({"progress": tx.progress, "input": tx.input, "metadata": tx.metadata, "data": tx.output})
    return result


def transaction_get(*, tx_id, owner=None):
    queryset = Transaction.objects.filter(pk=tx_id)
    if owner is not None:
        queryset = queryset.filter(owner_id=owner)
    tx = queryset.first()
    if tx is None:
        raise TransactionNotFound()
    return tx


def step_run_as_dict(*, run):
    return {
        "seq": run.seq, "step": run.step, "type": run.step_type, "status": run.status, "outcome": run.outcome_name,
        "attempt": run.attempt,
        "retry_count": run.retry_count, "note": run.note, "input": run.input, "output": run.output,
        "error": run.error, "started_at": iso(run.started_at), "ended_at": iso(run.ended_at),
        "duration_ms": run.duration_ms, "node": run.node, "logs": run.logs,
    }


def step_runs_of(*, tx_id):
    return list(StepRun.objects.filter(tx_id=tx_id).order_by("seq"))


def journal_of(*, tx_id):
    return list(JournalEntry.objects.filter(tx_id=tx_id).order_by("id"))


def step_runs_page(*, tx_id, after_seq=0, limit):
    """Return up to `limit` step runs of a transaction after `after_seq`, oldest first."""
    return list(StepRun.objects.filter(tx_id=tx_id, seq__gt=after_seq).order_by("seq")[:limit])


def journal_page(*, tx_id, after_seq=0, limit):
    """Return up to `limit` journal entries of a transaction after `after_seq`, oldest first."""
    return list(JournalEntry.objects.filter(tx_id=tx_id, id__gt=after_seq).order_by("id")[:limit])


def journal_entry_as_dict(*, entry):
    return {"seq": entry.seq, "at": iso(entry.at), "kind": entry.kind, "actor": entry.actor, "step": entry.step,
            "data": entry.data}


def in_owners(*, queryset, owners, field="owner_id"):
    """Limit `queryset` to `owners` (a collection of owner names); leave it whole for None (every owner)."""
    return queryset if owners is None else queryset.filter(**{f"{field}__in": list(owners)})


def owner_names(*, owners):
    """Return the names of the owners in scope, by name (every owner's when `owners` is None): naming them
    lets the indexes that lead with the owner serve a read for every owner too."""
    if owners is not None:
        return sorted(owners)
    return list(Owner.objects.order_by("name").values_list("name", flat=True))


def owner_exists(*, name):
    return Owner.objects.filter(pk=name).exists()


def node_count_seen_since(*, since):
    """Count the nodes that have reported in since `since`."""
    return Node.objects.filter(last_seen_at__gte=since).count()


def step_type_list():
    """List every registered step type: {"type", "description", "config_schema", "input_schema", "outcomes"},
    by name (`outcomes`: the ones it declares, None when it may end with any name)."""
    return [{"type": name, "description": cls.describe(), "config_schema": cls.config_schema,
             "input_schema": cls.input_schema, "outcomes": None if cls.outcomes is None else list(cls.outcomes)}
            for name, cls in registry.all_types().items()]


# Transaction lists -------------------------------------------------------------------------------


def transaction_get_by_external_id(*, owner, external_id):
    tx = Transaction.objects.filter(owner_id=owner, external_id=external_id).first()
    if tx is None:
        raise TransactionNotFound()
    return tx


def transactions_matching(*, owner=None, owners=None, statuses=None, transaction_type=None, external_id=None,
                          node_group=None, waiting_reason=None, switch=None, created_after=None,
                          created_before=None, parent_tx_id=None, fan_out=None, version=None):
    """Return the transactions the list filters match, unordered: of `owner` if given, and among `owners`
    (a collection of owner names) unless that is None (every owner). `fan_out` (a fan-out's id) finds the
    children it started; `version`, a pipeline version's id, those pinned to it."""
    queryset = in_owners(queryset=Transaction.objects.all(), owners=owners)
    if owner is not None:
        queryset = queryset.for_owner(owner)
    if statuses:
        queryset = queryset.filter(status__in=statuses)
    exact = {"pipeline_name": transaction_type, "external_id": external_id, "node_group_id": node_group,
             "parent_id": parent_tx_id, "sleeper__reason": waiting_reason, "sleeper__switch": switch,
             "fan_out_item__fan_out_id": fan_out, "version_id": version}
    queryset = queryset.filter(**{field: value for field, value in exact.items() if value is not None})
    if created_after is not None:
        queryset = queryset.filter(created_at__gt=created_after)
    if created_before is not None:
        queryset = queryset.filter(created_at__lt=created_before)
    return queryset


def transaction_list(*, before=None, limit, with_sleeper=False, payload=True, **filters):
    """Return up to `limit` of the transactions `transactions_matching(**filters)` finds, newest first (by
    created_at, then id), after the keyset position `before` = (created_at, tx_id) of the last row of
    the previous page; `with_sleeper` reads each row's sleeper in the same query, and `payload=False`
    leaves the JSON payloads unread."""
    queryset = transactions_matching(**filters)
    if with_sleeper:
        queryset = queryset.select_related("sleeper")
    if not payload:
        queryset = queryset.defer("input", "output", "metadata", "progress", "pending_input")
    if before is not None:
        at, tx_id = before
        queryset = queryset.filter(Q(created_at__lt=at) | Q(created_at=at, id__lt=tx_id))
    order = ("-created_at", "-id")
    parts = _finished_parts(queryset.order_by(*order), limit=limit, **filters)
    if parts is None:
        return list(queryset.order_by(*order)[:limit])
    if len(parts) == 1:
        return list(parts[0])
    return list(parts[0].union(*parts[1:], all=True).order_by(*order)[:limit])


# At most this many (owner, status) parts in one UNION ALL; past it the plain query is used.
UNION_PARTS_MAX = 100


def _finished_parts(queryset, *, limit, owner=None, owners=None, statuses=None, **_filters):
    """Return, for a list of finished statuses, the newest `limit` of each (owner, status) as separate querysets,
    each a short range of `tx_owner_finished_list_idx`, to be merged by a UNION ALL. Without the split
    PostgreSQL walks every newer row (e.g. all the sleeping ones) of one of the created_at indexes
    looking for the finished ones. None where the parts cannot be merged in SQL (SQLite has no ordered,
    limited parts of a UNION) or where there would be too many of them."""
    if not statuses or not set(map(str, statuses)).issubset(TX_TERMINAL_VALUES):
        return None
    names = [owner] if owner is not None else owner_names(owners=owners)
    pairs = [(name, status) for name in names for status in sorted(set(map(str, statuses)))]
    if not pairs or len(pairs) > 1 and (len(pairs) > UNION_PARTS_MAX
                                        or not connection.features.supports_slicing_ordering_in_compound):
        return None
    return [queryset.filter(owner_id=name, status=status)[:limit] for name, status in pairs]


def transactions_as_dicts(*, txs, payload=False, callback_url=False):
    """Return the transaction objects for a page of rows, reading their sleepers, the sleepers' open
    callbacks and the switches in three queries."""
    if not txs:
        return []
    sleeping = [tx.pk for tx in txs if tx.status == TxStatus.SLEEPING]
    sleepers = {s.tx_id: s for s in Sleeper.objects.select_related("callback", "fan_out").filter(tx_id__in=sleeping)}
    callbacks = open_callbacks_of(tx_ids=list(sleepers))
    switches = {tx.pk: [] for tx in txs}
    for row in Switch.objects.filter(tx_id__in=list(switches)):
        switches[row.tx_id].append(row)
    return [transaction_as_dict(tx=tx, payload=payload, prefetched=(sleepers.get(tx.pk), switches[tx.pk]),
                                callback_url=callback_url, open_callbacks=callbacks.get(tx.pk)) for tx in txs]


# Global switches ---------------------------------------------------------------------------------


def global_switch_list(*, owner):
    """List an owner's global switches, by name."""
    return [{"name": s.name, "value": s.value, "set_at": iso(s.set_at), "set_by": s.set_by}
            for s in GlobalSwitch.objects.filter(owner_id=owner).order_by("name")]


# Pipelines and node groups -----------------------------------------------------------------------


def _pipeline_dict(pipeline, versions):
    current = pipeline.current_version
    return {
        "name": pipeline.name,
        "description": pipeline.description,
        "node_group": pipeline.node_group_id,
        "transaction_type": pipeline.transaction_type,
        "version": pipeline.current_version_id,
        "versions": versions,
        "steps": current.steps if current is not None else [],
    }


def pipeline_list():
    """List every pipeline with its version in use and how many versions it has, by name."""
    queryset = Pipeline.objects.select_related("current_version").annotate(version_count=Count("versions"))
    return [_pipeline_dict(p, p.version_count) for p in queryset.order_by("name")]


def pipeline_detail(*, name):
    """Return one pipeline, with every version (oldest first) and which one is in use."""
    pipeline = Pipeline.objects.select_related("current_version").filter(name=name).first()
    if pipeline is None:
        raise NotFound("No such pipeline.")
    versions = [
        {"version": v.version, "created_at": iso(v.created_at), "in_use": v.version == pipeline.current_version_id}
        for v in PipelineVersion.objects.filter(pipeline_id=name).order_by("created_at", "version")
    ]
    return _pipeline_dict(pipeline, versions)


def _node_dict(node):
    return {"node_id": node.node_id, "host": node.host, "pid": node.pid, "workers": node.workers,
            "started_at": iso(node.started_at), "last_seen_at": iso(node.last_seen_at)}


def node_group_as_dict(*, group, counts=None, nodes=()):
    counts = counts or {}
    return {
        "name": group.name, "description": group.description, "paused": group.paused,
        "max_concurrency": group.max_concurrency,
        **{status: counts.get(status, 0) for status in ("queued", "running", "sleeping")},
        "nodes": [_node_dict(node) for node in nodes],
    }


def node_group_list(*, owner):
    """List every node group with its nodes and the owner's queued, running and sleeping counts (three queries)."""
    counts = {}
    rows = (Transaction.objects.for_owner(owner)
            .filter(status__in=[TxStatus.QUEUED, TxStatus.RUNNING, TxStatus.SLEEPING])
            .values("node_group_id", "status").annotate(n=Count("id")).order_by())
    for row in rows:
        counts.setdefault(row["node_group_id"], {})[row["status"]] = row["n"]
    nodes = {}
    for node in Node.objects.order_by("node_id"):
        nodes.setdefault(node.group_id, []).append(node)
    return [node_group_as_dict(group=group, counts=counts.get(group.name), nodes=nodes.get(group.name, ()))
            for group in NodeGroup.objects.order_by("name")]


def node_group_detail(*, name, owner):
    """Return one node group as node_group_list shows it."""
    for group in node_group_list(owner=owner):
        if group["name"] == name:
            return group
    raise NotFound("No such node group.")
