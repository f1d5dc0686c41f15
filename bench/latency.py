"""Measure switch wake-up and timer lateness against a real node, on SQLite or PostgreSQL.

    .venv/bin/python bench/latency.py                       # SQLite file in a temp folder
    DATABASE_URL=postgresql://... .venv/bin/python bench/latency.py   # a fresh database on that server

Starts its own node (`datp_node --group master --workers 2`) on a database of its own, then:
- switch wake-up: a transaction sleeps on a switch; time from the set_switch call until the
  transaction has finished (its step ran after the wake-up);
- timer lateness: transactions sleep PT3S..PT6S (spread); lateness = start of the step run after the
  wake-up minus the sleeper's wake_at.
Prints p50 / p90 / p99 / max in milliseconds.
"""
import argparse
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def database_url(tmp):
    outer = os.environ.get("DATABASE_URL", "")
    if not outer.startswith("postgres"):
        return f"sqlite:///{tmp}/db.sqlite3", None
    import psycopg

    name = f"datp_latency_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(outer, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{outer.rsplit('/', 1)[0]}/{name}", (outer, name)


def percentiles(values):
    values = sorted(values)

    def at(q):
        return values[min(len(values) - 1, int(q * len(values)))]

    return f"p50 {at(0.5):7.1f}  p90 {at(0.9):7.1f}  p99 {at(0.99):7.1f}  max {values[-1]:7.1f}  (n={len(values)})"


def wait_status(tx_id, status, timeout=30):
    from engine.models import Transaction

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if Transaction.objects.filter(pk=tx_id, status=status).exists():
            return True
        time.sleep(0.002)
    raise SystemExit(f"{tx_id} did not become {status} within {timeout}s")


def measure_switch(samples):
    from engine.models import Transaction
    from engine.services.switches import switch_set
    from engine.services.transactions import transaction_start

    results = []
    for _ in range(samples):
        tx, _ = transaction_start(owner="bench", transaction_type="latency-switch", data={})
        wait_status(tx.pk, "sleeping")
        time.sleep(0.02)
        started = time.time()
        switch_set(tx_id=tx.pk, name="go", value=True, actor="bench")
        wait_status(tx.pk, "success")
        completed = Transaction.objects.values_list("completed_at", flat=True).get(pk=tx.pk)
        results.append((completed.timestamp() - started) * 1000)
    return results


def measure_timers(count):
    from engine.durations import parse_timestamp
    from engine.models import JournalEntry, StepRun
    from engine.services.transactions import transaction_start

    ids = []
    for i in range(count):
        seconds = 3 + 3 * random.random()
        tx, _ = transaction_start(owner="bench", transaction_type="latency-timer", data={"nap": f"PT{seconds:.3f}S"})
        ids.append(tx.pk)
    for tx_id in ids:
        wait_status(tx_id, "success", timeout=60)
    lateness = []
    for tx_id in ids:
        entry = JournalEntry.objects.filter(tx_id=tx_id, kind="status", data__to="sleeping").first()
        woken_run = StepRun.objects.filter(tx_id=tx_id, step="nap", retry_count=1).first()
        wake_at = parse_timestamp(entry.data["wake_at"])
        lateness.append((woken_run.started_at - wake_at).total_seconds() * 1000)
    return lateness


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--switch-samples", type=int, default=100)
    parser.add_argument("--timers", type=int, default=100)
    options = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="datp-latency-")
    url, created = database_url(tmp)
    os.environ.update({"DATABASE_URL": url, "DATP_VAR_DIR": tmp, "DJANGO_SETTINGS_MODULE": "datp_site.settings",
                       "DATP_DISPATCHER": "django_q", "DATP_LOG_LEVEL": "WARNING"})
    import django

    django.setup()
    from django.core.management import call_command

    from engine.services.owners import owner_ensure
    from engine.services.pipelines import pipeline_publish

    call_command("migrate", verbosity=0)
    owner_ensure(name="bench")
    pipeline_publish(definition={"name": "latency-switch", "steps": [
        {"name": "wait", "type": "util/wait-switch", "config": {"switch": "go"}}]})
    pipeline_publish(definition={"name": "latency-timer", "steps": [
        {"name": "nap", "type": "util/sleep", "config": {"duration_field": "nap"}}]})
    node = subprocess.Popen([sys.executable, "manage.py", "datp_node", "--group", "master", "--workers", "2"],
                            cwd=ROOT, env=os.environ.copy(), start_new_session=True,
                            stdout=open(Path(tmp) / "node.log", "w"), stderr=subprocess.STDOUT)
    try:
        time.sleep(3)
        engine = "PostgreSQL" if created else "SQLite"
        switch = measure_switch(options.switch_samples)
        timers = measure_timers(options.timers)
        print(f"{engine}: switch wake-up (set_switch -> finished), ms: {percentiles(switch)}")
        print(f"{engine}: timer lateness (step start - wake_at), ms:  {percentiles(timers)}")
        print(f"median switch {statistics.median(switch):.1f} ms; median timer {statistics.median(timers):.1f} ms")
    finally:
        node.send_signal(signal.SIGTERM)
        node.wait(timeout=60)
        if created:
            from django.db import connections

            connections.close_all()
            import psycopg

            with psycopg.connect(created[0], autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{created[1]}" WITH (FORCE)')


if __name__ == "__main__":
    main()
