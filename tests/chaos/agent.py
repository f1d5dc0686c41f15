"""The harness's hands on the engine: a long-lived process, set up against the chaos database, that reads
one JSON command a line on stdin and answers one JSON line on stdout. It goes through the services
like any client; a database error is answered (and the connection dropped) so the caller can retry.

    python -m tests.chaos.agent     # DATABASE_URL, DATP_* from the environment
"""
import json
import os
import sys
import traceback


def _setup(*, pipelines, groups=None):
    from django.core.management import call_command

    from engine.services.owners import owner_ensure
    from engine.services.pipelines import node_group_ensure, node_group_update

    call_command("migrate", verbosity=0)
    owner_ensure(name="test")
    for name, changes in (groups or {}).items():
        node_group_ensure(name=name)
        node_group_update(name=name, **changes)
    call_command("datp_load_pipelines", pipelines, verbosity=0)
    return "ok"


def _start(*, pipeline, count=1, data=None, webhook=None, deadline=None, vary=None):
    """Start `count` transactions; `vary` is a list of data objects merged in turn (a mix of inputs)."""
    from engine.services.transactions import transaction_start

    ids = []
    for index in range(count):
        payload = {**(data or {}), **((vary or [{}])[index % len(vary or [{}])]), "n": index}
        ids.append(transaction_start(owner="test", transaction_type=pipeline, data=payload, webhook=webhook,
                                     deadline=deadline)[0].pk)
    return ids


def _counts(*, tx_ids=None):
    from django.db.models import Count

    from engine.models import Transaction

    rows = Transaction.objects.all() if tx_ids is None else Transaction.objects.filter(pk__in=tx_ids)
    return {f"{row['pipeline_name']}:{row['status']}": row["n"]
            for row in rows.values("pipeline_name", "status").annotate(n=Count("pk"))}


def _sleeping_on(*, switch, limit=100000):
    from engine.models import Sleeper

    return list(Sleeper.objects.filter(switch=switch, tx__status="sleeping").values_list("tx_id", flat=True)[:limit])


def _set_switch(*, tx_id, name, value, actor="chaos"):
    from engine.services.switches import switch_set

    return switch_set(tx_id=tx_id, name=name, value=value, actor=actor)["action"]


def _running(*, group=None):
    from engine.models import Transaction

    rows = Transaction.objects.filter(status="running")
    if group is not None:
        rows = rows.filter(node_group_id=group)
    return list(rows.values_list("pk", "node"))


def _group(*, name, **changes):
    from engine.services.pipelines import node_group_update

    node_group_update(name=name, **changes)
    return "ok"


def _runs(*, tx_id):
    from engine.models import StepRun

    return list(StepRun.objects.filter(tx_id=tx_id).order_by("seq").values(
        "step", "status", "attempt", "retry_count", "node", "output"))


def _journal(*, tx_id):
    from engine.models import JournalEntry

    return list(JournalEntry.objects.filter(tx_id=tx_id).order_by("at", "pk").values("kind", "actor", "data"))


def _switch(*, tx_id, name):
    from engine.models import Switch

    return Switch.objects.filter(tx_id=tx_id, name=name).values_list("value", flat=True).first()


def _tx(*, tx_id):
    from engine.models import Transaction

    return Transaction.objects.filter(pk=tx_id).values(
        "status", "output", "note", "queued_at", "completed_at", "step_name").first()


def _webhooks():
    from django.db.models import Count, Max, Min

    from engine.models import WebhookDelivery

    return {row["status"]: {"n": row["n"], "min_attempts": row["low"], "max_attempts": row["high"]}
            for row in WebhookDelivery.objects.values("status").annotate(
                n=Count("pk"), low=Min("attempts"), high=Max("attempts"))}


def _verify(**arguments):
    from tests.chaos.checks import verify

    return verify(**arguments)


def _fanout(*, tx_id):
    from tests.fanout_facts import fanout_facts, fanout_problems

    facts = fanout_facts(tx_id)
    return {"facts": facts, "problems": fanout_problems(facts)}


def _unsuccessful_children(*, tx_id):
    """Each child of `tx_id` that did not end success: its status and note, step runs and journal (a failed
    scenario's explanation)."""
    from engine.models import StepRun, Transaction

    found = []
    for child in Transaction.objects.filter(parent_id=tx_id).exclude(status="success").values(
            "id", "status", "note", "attempt", "node", "parent_key"):
        runs = StepRun.objects.filter(tx_id=child["id"]).order_by("started_at").values(
            "seq", "step", "status", "attempt", "node", "note", "started_at", "ended_at")
        found.append({**child, "runs": [{**run, "started_at": str(run["started_at"]), "ended_at": str(run["ended_at"])}
                                        for run in runs],
                      "journal": _journal(tx_id=child["id"])})
    return found


def _key():
    from engine.services.owners import api_key_create

    return api_key_create(owner="test", name=f"chaos-{os.getpid()}", system=True)[1]


def _wake_times(*, tx_ids):
    from engine.models import Sleeper

    return {tx: at.isoformat() for tx, at in Sleeper.objects.filter(tx_id__in=tx_ids).values_list("tx_id", "wake_at")}


CALENDAR = [
    ("2024-01-31T10:00:00+00:00", "P1M", "2024-02-29T10:00:00+00:00"),
    ("2023-01-31T10:00:00+00:00", "P1M", "2023-02-28T10:00:00+00:00"),
    ("2024-02-28T12:00:00+00:00", "P1D", "2024-02-29T12:00:00+00:00"),
    ("2024-02-29T00:00:00+00:00", "P1Y", "2025-02-28T00:00:00+00:00"),
    ("2024-03-09T12:00:00+00:00", "P1D", "2024-03-10T12:00:00+00:00"),
    ("2024-03-10T06:30:00+00:00", "PT1H", "2024-03-10T07:30:00+00:00"),
    ("2024-11-02T12:00:00+00:00", "P1DT1H", "2024-11-03T13:00:00+00:00"),
    ("2024-12-31T23:00:00+00:00", "P2M", "2025-02-28T23:00:00+00:00"),
]


def _calendar():
    """Add each duration as a step's timer does, in this process's time zone (the harness sets TZ)."""
    import time as wall
    from datetime import datetime

    from engine import durations

    wall.tzset()
    return [{"from": start, "duration": duration, "want": want, "tz": wall.tzname[0],
             "got": durations.add(datetime.fromisoformat(start), duration).isoformat()}
            for start, duration, want in CALENDAR]


def _schedules_create(**arguments):
    from tests.chaos.schedule_checks import create

    return create(**arguments)


def _schedule_facts(**arguments):
    from tests.chaos.schedule_checks import facts

    return facts(**arguments)


COMMANDS = {
    "setup": _setup, "start": _start, "counts": _counts, "sleeping_on": _sleeping_on, "set_switch": _set_switch,
    "running": _running, "group": _group, "runs": _runs, "journal": _journal, "switch": _switch, "tx": _tx,
    "webhooks": _webhooks, "verify": _verify, "key": _key, "wake_times": _wake_times,
    "calendar": _calendar, "fanout": _fanout,
    "unsuccessful_children": _unsuccessful_children, "schedules_create": _schedules_create,
    "schedule_facts": _schedule_facts,
}


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "datp_site.settings")
    answers, sys.stdout = sys.stdout, sys.stderr  # what commands print must not garble the answers
    import django

    django.setup()
    from django.db import DatabaseError, InterfaceError, connection

    for line in sys.stdin:
        request = json.loads(line)
        try:
            answer = {"ok": COMMANDS[request["cmd"]](**request.get("args", {}))}
        except (DatabaseError, InterfaceError) as exc:
            connection.close()
            answer = {"error": f"database: {exc}", "retry": True}
        except Exception as exc:  # an answer, never a dead agent: the harness reports it
            answer = {"error": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc()[-2000:]}
        answers.write(json.dumps(answer, default=str) + "\n")
        answers.flush()


if __name__ == "__main__":
    main()
