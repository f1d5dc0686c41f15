"""Many rows fast, for P5 and P7 on PostgreSQL: clone a template transaction that the engine itself
brought to the wanted state (sleeping on a timer or a switch, or finished) with bulk INSERT ... SELECT
over generate_series, and time the console and API reads on the result."""
import time

from django.db import connection, transaction

BATCH = 100_000
BIG_TABLES = ("engine_transaction", "engine_sleeper", "engine_steprun", "engine_journalentry")
BIG_ROWS = 10_000  # a whole-table scan of a smaller table is the planner's right choice
FAR = "interval '3650 days'"


def _template(pipeline, data, status):
    from engine_driver import OWNER, wait_status

    from engine.services.transactions import transaction_start

    tx, _created = transaction_start(owner=OWNER, transaction_type=pipeline, data=data)
    wait_status(tx.pk, status, timeout=60)
    return tx.pk


def _columns(model, overrides):
    columns = [field.column for field in model._meta.concrete_fields]
    return ", ".join(columns), ", ".join(overrides.get(column, f"t.{column}") for column in columns)


def _clone(model, template_id, count, prefix, overrides=None, key="id"):
    """INSERT `count` copies of the row of `template_id`, in batches of BATCH, ids prefix || g."""
    names, values = _columns(model, {key: "%(prefix)s || g", **(overrides or {})})
    table = model._meta.db_table
    made = 0
    while made < count:
        upper = min(count, made + BATCH)
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} ({names}) SELECT {values} FROM {table} t, generate_series(%(lo)s, %(hi)s) g "
                f"WHERE t.{key} = %(template)s",
                {"prefix": prefix, "lo": made + 1, "hi": upper, "template": template_id})
        made = upper
    return made


def seed_sleepers(count):
    """`count` transactions sleeping far in the future, half on timers and half on switches."""
    from engine.models import Sleeper, Transaction

    prefix = f"s{time.time_ns():x}-"
    made = 0
    for kind, (pipeline, data) in {"t": ("bench-nap", {"nap": "P3650D"}), "w": ("bench-switch", {})}.items():
        template = _template(pipeline, data, "sleeping")
        share = count // 2 if kind == "t" else count - count // 2
        _clone(Transaction, template, share, prefix + kind)
        wake = f"t.wake_at + {FAR} + g * interval '1 second'"
        _clone(Sleeper, template, share, prefix + kind, {"wake_at": f"CASE WHEN t.wake_at IS NULL THEN NULL ELSE {wake} END"},
               key="tx_id")
        made += share
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE engine_transaction")  # the steady state: the load's own
        cursor.execute("VACUUM ANALYZE engine_sleeper")  # upkeep (autovacuum of a million new rows) is not idle CPU
    return made


def seed_due(count, in_seconds=3.0):
    """`count` timer sleepers whose one-second naps all fall due at the same moment, `in_seconds` from now
    (time for the node to plan its wake-up, as it would for sleepers written long before); return their
    ids and that moment (epoch seconds)."""
    from engine.models import Sleeper, Transaction

    prefix = f"d{time.time_ns():x}-"
    template = _template("bench-nap", {"nap": "P3650D"}, "sleeping")
    _clone(Transaction, template, count, prefix, {"input": """'{"nap": "PT1S"}'::jsonb""",
                                                  "visit_started_at": "now() - interval '1 hour'"})
    due_at = time.time() + in_seconds
    _clone(Sleeper, template, count, prefix, {"wake_at": f"to_timestamp({due_at})"}, key="tx_id")
    if time.time() > due_at - 1.0:
        raise SystemExit(f"seeding {count} due sleepers took longer than {in_seconds - 1:.0f} s: raise in_seconds")
    return [f"{prefix}{g}" for g in range(1, count + 1)], due_at


def wait_woken(tx_ids, timeout):
    """Wait until none of `tx_ids` sleeps any more; return the wall time."""
    from engine.models import Sleeper

    deadline = time.monotonic() + timeout
    probe = tx_ids[-1:] + tx_ids[::max(1, len(tx_ids) // 50)]
    while Sleeper.objects.filter(tx_id__in=probe).exists() or Sleeper.objects.filter(tx_id__in=tx_ids).exists():
        if time.monotonic() > deadline:
            raise SystemExit(f"sleepers not woken within {timeout}s")
        time.sleep(0.01)
    return time.time()


def wait_queue_empty(timeout):
    """Wait until nothing is queued or running (each test served by its partial index)."""
    from engine.models import Transaction

    deadline = time.monotonic() + timeout
    while Transaction.objects.filter(status="queued").exists() or Transaction.objects.filter(status="running").exists():
        if time.monotonic() > deadline:
            raise SystemExit(f"the queue did not empty within {timeout}s")
        time.sleep(0.1)


def seed_finished(count):
    """`count` finished transactions, spread back in time, one in ten failed."""
    from engine.models import Transaction

    template = (Transaction.objects.filter(pipeline_name="bench-echo3", status="success")
                .order_by("-created_at").values_list("pk", flat=True).first())
    if template is None:
        template = _template("bench-echo3", {}, "success")
    made = _clone(Transaction, template, count, f"f{time.time_ns():x}-", {
        "created_at": "t.created_at - g * interval '1 second'",
        "status": "CASE WHEN mod(g, 10) = 0 THEN 'failed' ELSE t.status END",
    })
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE engine_transaction")
    return made, template


def measure_reads(samples, api_key, template_id):
    """Server time of the console's and the API's list and page reads, p50/p95/max in ms."""
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from engine_driver import summary

    user, _created = get_user_model().objects.get_or_create(username="bench-admin", defaults={"is_superuser": True,
                                                                                              "is_staff": True})
    console, api = Client(), Client(HTTP_AUTHORIZATION=f"Bearer {api_key}")
    console.force_login(user)
    reads = {
        "api list": (api, "/api/v1/transactions?limit=50"),
        "api list status=failed": (api, "/api/v1/transactions?status=failed&limit=50"),
        "api list type": (api, "/api/v1/transactions?transaction_type=bench-echo3&limit=50"),
        "api transaction": (api, f"/api/v1/transactions/{template_id}"),
        "console list": (console, "/mondat/transactions/"),
        "console list status=failed": (console, "/mondat/transactions/?status=failed"),
        "console transaction": (console, f"/mondat/transactions/{template_id}/"),
        "console dashboard": (console, "/mondat/"),
    }
    results, scans = {}, {}
    for name, (client, path) in reads.items():
        times = []
        with CaptureQueriesContext(connection) as queries:
            client.get(path)  # untimed: the first request of a process imports and compiles what it needs
        scans[name] = seq_scans(queries.captured_queries)
        for _ in range(samples):
            began = time.perf_counter()
            response = client.get(path)
            times.append((time.perf_counter() - began) * 1000)
            if response.status_code != 200:
                raise SystemExit(f"{path}: HTTP {response.status_code}")
        results[name] = summary(times)
    return {"reads_ms": results, "seq_scans": {name: found for name, found in scans.items() if found}}


def seq_scans(captured):
    """The big tables (BIG_ROWS or more) that a plan of these queries reads whole (EXPLAIN, not run)."""
    found = set()
    with connection.cursor() as cursor:
        cursor.execute("SELECT relname FROM pg_stat_user_tables WHERE relname = ANY(%s) AND n_live_tup >= %s",
                       [list(BIG_TABLES), BIG_ROWS])
        big = {name for (name,) in cursor.fetchall()}
        for query in captured:
            if not query["sql"].lstrip("(").startswith("SELECT"):  # a UNION's first part opens with "("
                continue
            cursor.execute(f"EXPLAIN {query['sql']}")
            for (line,) in cursor.fetchall():
                for table in big:
                    if f"Seq Scan on {table} " in line:
                        found.add(table)
    return sorted(found)
