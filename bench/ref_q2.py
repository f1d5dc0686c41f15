"""The bare django-q2 reference: no-op tasks and chains of 3 through a running `qcluster`.

    Q2_DATABASE_URL=postgresql://... .venv/bin/python bench/ref_q2.py --what tasks --count 1000
enqueues, then waits until the cluster has run them all (counted by their saved results) and prints
one JSON object on its last line. `--what migrate` prepares the database.
"""
import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "q2_settings")


def noop(*args):
    return None


def cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def wait_results(expected, timeout):
    from django_q.models import Task

    deadline = time.monotonic() + timeout
    while Task.objects.count() < expected:
        if time.monotonic() > deadline:
            raise SystemExit(f"django-q2 ran {Task.objects.count()} of {expected} tasks within {timeout}s")
        time.sleep(0.02)


def run(what, count, timeout):
    from django_q.models import Task
    from django_q.tasks import async_chain, async_task

    Task.objects.all().delete()
    began, cpu = time.time(), cpu_seconds()
    for _ in range(count):
        if what == "tasks":
            async_task("ref_q2.noop")
        else:
            async_chain([("ref_q2.noop",), ("ref_q2.noop",), ("ref_q2.noop",)])
    enqueued = time.time()
    wait_results(count * (1 if what == "tasks" else 3), timeout)
    ended = time.time()
    return {"what": what, "count": count, "t0": began, "t1": ended, "enqueue_seconds": enqueued - began,
            "per_second": count / (ended - began), "client_cpu_seconds": cpu_seconds() - cpu}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--what", choices=["migrate", "tasks", "chains"], required=True)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--timeout", type=float, default=300)
    options = parser.parse_args()
    import django

    django.setup()
    if options.what == "migrate":
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        result = {"migrated": True}
    else:
        result = run(options.what, options.count, options.timeout)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
