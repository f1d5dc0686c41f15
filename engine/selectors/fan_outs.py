"""Fan-outs as the API, the console and the client show them: each one's progress (the counters its join is
decided from, never a count of its children) and where its children are listed."""
from urllib.parse import urlencode

from django.urls import reverse

from engine.joins import ChildGroup
from engine.models import FanOut
from engine.selectors.formats import iso


def fan_out_group(*, fan):
    """Return the ChildGroup of `fan` without its results: what its why-line and its progress read."""
    return ChildGroup(id=fan.pk, pipeline=fan.pipeline, join=fan.join, total=fan.total, started=fan.started,
                      succeeded=fan.succeeded, failed=fan.failed, tolerated=fan.tolerated,
                      tolerated_given=fan.tolerated_given, outcome=fan.outcome)


def children_filters(*, tx_id, fan_out_id=None, **more):
    """Return the list filters (as a query string's values) that find the children of `tx_id`, of one fan-out
    if `fan_out_id`; `more` adds others (status="failed")."""
    found = {"parent_tx_id": tx_id}
    if fan_out_id is not None:
        found["fan_out"] = fan_out_id
    return {**found, **more}


def children_api_path(*, tx_id, fan_out_id=None):
    """Return the API path of the list of the children of `tx_id` (of one fan-out if `fan_out_id`)."""
    return f"{reverse('api:transactions')}?{urlencode(children_filters(tx_id=tx_id, fan_out_id=fan_out_id))}"


def fan_out_as_dict(*, fan):
    """Return the fan-out object of api.md: its settings, its counts, its outcome once decided (success,
    failed, or closed when the parent ended first) and the link to its children."""
    group = fan_out_group(fan=fan)
    return {
        "fan_out": fan.pk, "step": fan.step, "visit": fan.visit, "pipeline": fan.pipeline, "join": fan.join,
        "first_n": fan.first_n, "max_parallel": fan.max_parallel,
        "on_failure": "finish_all" if fan.finish_all else "fail_fast",
        "total": group.total, "started": group.started, "running": group.running, "succeeded": group.succeeded,
        "failed": group.failed, "not_started": group.not_started, "tolerated": group.tolerated,
        "tolerated_given": group.tolerated_given, "outcome": group.outcome, "summary": group.describe(),
        "created_at": iso(fan.created_at), "decided_at": iso(fan.decided_at),
        "links": {"children": children_api_path(tx_id=fan.tx_id, fan_out_id=fan.pk)},
    }


def fan_outs_page(*, tx_id, after_id=0, limit):
    """Return up to `limit` fan-outs of a transaction after the id `after_id`, oldest first."""
    return list(FanOut.objects.filter(tx_id=tx_id, pk__gt=after_id).order_by("pk")[:limit])


def fan_outs_latest(*, tx_id, limit):
    """Return the newest `limit` fan-outs of a transaction, newest first, and whether it has older ones."""
    rows = list(FanOut.objects.filter(tx_id=tx_id).order_by("-pk")[:limit + 1])
    return rows[:limit], len(rows) > limit
