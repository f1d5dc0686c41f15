"""A version move of 1,000 sleepers with a node running beside it, real processes on PostgreSQL (issue 22).

1,000 transactions of rt-move (first; nap: util/sleep until a time of their data; last: test/stamp of version 1)
sleep on v1. A mover process publishes v2 (its `last` stamps version 2) and, just before the first wake time, starts
the move job and runs its batches, while the node wakes, claims and ends the transactions as their times come (the
node's own bulk loop may take batches of the job too). The move takes the newest first and the newest wake last:
the move and the node's wakes come at them from both ends and meet among them, wherever the machine's speed has
them meet, and there the wake times are mixed. The mover holds each row it locked a few milliseconds before the
conditional update (at the fault point version_move_after_lock), and a few far longer: a sleeper locked just before
its wake time is held across it (the node's waker passes the locked row by), and a woken one, queued, is held while
the node's workers claim (their claim passes it by).

Then nothing ran twice (the step runs of each transaction: first, the sleep asleep and then awake, last; the step
code's own run log agrees), nothing was lost (all 1,000 ended success), every move was journaled once, and the move
and the run agree: a transaction ran its last step as v2 has it exactly when it has a version_move entry, and the
job's counts are those entries and the rest.
"""
import json
import random
import subprocess
import sys
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

pytestmark = [pytest.mark.nodes, pytest.mark.postgres_only]  # the race is PostgreSQL's row locks (SKIP LOCKED)

ROOT = Path(__file__).resolve().parents[2]
MODULE = "tests.runtime.test_version_move_race"  # its `_main`: the helper processes
PIPELINE = "rt-move"
COUNT = 1000
LEAD = 30.0      # seconds from the starts to the first wake time: the node puts all 1,000 to sleep in 8 to 17 s
WINDOW = 8.0     # the wake times spread over this many seconds: the move of 1,000 would take longer
CHUNKS = 20      # started one chunk after the other, the later ones waking later
JITTER = 1.0     # each wake time this much around its chunk's, at most
EARLY = 0.5      # the move starts this long before the first wake time
HOLD = 0.004     # each locked row held this long before its update
ACROSS = 0.3     # a row held across its wake time, or while queued, this long (at most LONG_HOLDS of them)
LONG_HOLDS = 8
V2_STAMP = 2
SHAPE = (("first", "success"), ("nap", "sleeping"), ("nap", "success"), ("last", "success"))

TRANSACTIONS = "SELECT id, status, version_id, output FROM engine_transaction WHERE pipeline_name = %s"
RUNS = """SELECT r.tx_id, r.step, r.status FROM engine_steprun r JOIN engine_transaction t ON t.id = r.tx_id
           WHERE t.pipeline_name = %s ORDER BY r.tx_id, r.seq"""
JOURNAL = """SELECT j.id, j.tx_id, j.kind, j.at, j.data FROM engine_journalentry j JOIN engine_transaction t ON t.id = j.tx_id
              WHERE t.pipeline_name = %s AND j.kind IN ('version_move', 'woken', 'status') ORDER BY j.id"""
JOB = "SELECT status, total, done, skipped, started_at, finished_at FROM engine_bulkjob WHERE id = %s"


def helper(system, command, **args):
    """Run one of this module's commands (`_main`) in a process of its own on the system's database."""
    log = system.tmp / f"{command}.log"
    with open(log, "w") as stderr:
        process = subprocess.Popen([sys.executable, "-m", MODULE, command, json.dumps(args)], cwd=ROOT,
                                   env=system.env, stdout=subprocess.PIPE, stderr=stderr, text=True)
    process.log = log
    return process


def answer(process, timeout):
    out, _ = process.communicate(timeout=timeout)
    assert process.returncode == 0 and out.strip(), process.log.read_text()[-3000:]
    return json.loads(out.strip().splitlines()[-1])


def rows(system, sql, *params):
    with psycopg.connect(system.env["DATABASE_URL"]) as conn:
        return conn.execute(sql, params).fetchall()


def by_status(system):
    return Counter(status for _, status, _, _ in rows(system, TRANSACTIONS, PIPELINE))


def test_a_version_move_of_1000_sleepers_beside_a_running_node_runs_nothing_twice_loses_none_journals_each(system):
    system.start_node(workers=2)
    first_wake = time.time() + LEAD
    answer(helper(system, "start", count=COUNT, first_wake=first_wake, window=WINDOW), timeout=120)
    move_at = first_wake - EARLY
    mover = helper(system, "move", at=move_at)  # publishes v2 now, starts the move just before the first wake
    system.wait_for(lambda: by_status(system)["sleeping"] == COUNT, timeout=max(1.0, move_at - time.time()),
                    what=f"all {COUNT} to sleep before the move")
    moved_by = answer(mover, timeout=120)
    job = system.wait_for(lambda: next((job for job in rows(system, JOB, moved_by["job"]) if job[0] == "done"), None),
                          timeout=60, what="the move job to finish")
    system.wait_for(lambda: by_status(system)["success"] == COUNT, timeout=60, what=f"all {COUNT} to end success")

    # Nothing lost: all of them ended success.
    transactions = {tx: (version, output) for tx, _, version, output in rows(system, TRANSACTIONS, PIPELINE)}
    assert len(transactions) == COUNT and by_status(system) == {"success": COUNT}
    # Nothing ran twice: the step runs of each are first, the sleep (asleep, then woken and done) and last, once...
    runs = defaultdict(list)
    for tx, step, status in rows(system, RUNS, PIPELINE):
        runs[tx].append((step, status))
    shapes = Counter(tuple(found) for found in runs.values())
    assert shapes == {SHAPE: COUNT}, shapes
    # ... the step code itself ran first and last once for each (its run log, written as it runs) ...
    lines = [line.split() for line in system.runlog_lines()]
    executions = Counter((tx, step) for tx, step, *_ in lines)
    assert len(executions) == 2 * COUNT and set(executions.values()) == {1}, executions.most_common(3)
    stamps = {tx: int(what.removeprefix("version=")) for tx, step, what, *_ in lines if step == "last"}
    # ... and each woke once.
    moves, woken, claims = {}, defaultdict(list), defaultdict(list)
    for entry, tx, kind, at, data in rows(system, JOURNAL, PIPELINE):
        if kind == "version_move":
            assert tx not in moves, f"{tx} moved twice"
            moves[tx] = (entry, at, data)
        elif kind == "woken":
            woken[tx].append((entry, at))
        elif data.get("to") == "running":
            claims[tx].append(entry)
    assert {len(found) for found in woken.values()} == {1} and len(woken) == COUNT

    # Every move journaled once, and the move and the run agree: exactly the moved are on v2 and ran their last
    # step as v2 has it; the others (claimed, or ended, before the move came to them) ran and ended on v1.
    assert {(data["from_version"], data["to_version"]) for _, _, data in moves.values()} == {
        (moved_by["from"], moved_by["to"])}
    assert {tx for tx, (version, _) in transactions.items() if version == moved_by["to"]} == set(moves)
    assert {tx for tx, (_, output) in transactions.items() if output["version"] == V2_STAMP} == set(moves)
    assert {tx for tx, stamp in stamps.items() if stamp == V2_STAMP} == set(moves)
    # A moved one was claimed for its last step after its move, and a moved sleeper woke after it.
    for tx, (entry, _, data) in moves.items():
        assert claims[tx][-1] > entry and (data["status"] == "queued" or woken[tx][0][0] > entry), (tx, data)
    # The job counts them: done is the moves journaled, the rest skipped.
    _, total, done, skipped, started_at, finished_at = job
    assert (total, done, done + skipped) == (COUNT, len(moves), COUNT), job
    # It raced: the move came to some before the node did, and to others after...
    assert 0 < done < COUNT, job
    # ... and the node passed the rows it held by: a sleeper held across its wake time woke late by about as long
    # (the waker skipped its locked row), a woken one held while queued was claimed only after its move.
    held = moved_by["held"]
    assert held, moved_by
    for tx, was in held:
        _, _, data = moves[tx]
        assert data["status"] == was and stamps[tx] == V2_STAMP, (tx, was, data)
        late = (woken[tx][0][1] - datetime.fromisoformat(transactions[tx][1]["until"])).total_seconds()
        assert was == "queued" or late > ACROSS / 2, (tx, was, late)
    by_was = Counter(data["status"] for _, _, data in moves.values())
    lateness = sorted((found[0][1] - datetime.fromisoformat(transactions[tx][1]["until"])).total_seconds()
                      for tx, found in woken.items())
    print(f"\nmoved {done} (sleeping {by_was['sleeping']}, queued {by_was['queued']}), skipped {skipped}; held "
          f"across a wake or while queued {dict(Counter(was for _, was in held))}; the mover moved {moved_by['hits']}; "
          f"the job ran {(finished_at - started_at).total_seconds():.1f} s; wakes late by {lateness[COUNT // 2]:.3f} s "
          f"(median), {lateness[-COUNT // 100]:.3f} s (99 %)")


def _main(command, args):
    """The helper processes: `start` the transactions, `move` them (publish v2, then the job at a given time)."""
    import os

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "datp_site.settings")
    import django

    django.setup()
    from engine.models import BulkJob, Pipeline
    from engine.runtime import faults
    from engine.services import bulk
    from engine.services.pipelines import pipeline_publish
    from engine.services.start_many import transaction_start_many

    if command == "start":
        # In chunks, each started after the one before: the move takes the newest first, and the newest wake last,
        # so the move and the node's wakes come at them from both ends and meet among them; each wake time jitters
        # by up to JITTER around its chunk's, so that where they meet, the move's turn and the wake are mixed.
        count, window, first_wake = args["count"], args["window"], args["first_wake"]
        started = []
        for chunk in range(CHUNKS):
            numbers = range(chunk * count // CHUNKS, (chunk + 1) * count // CHUNKS)
            wakes = [first_wake + JITTER + (window - 2 * JITTER) * chunk / (CHUNKS - 1)
                     + random.Random(n).uniform(-JITTER, JITTER) for n in numbers]
            items = [{"transaction_type": PIPELINE,
                      "data": {"n": n, "until": datetime.fromtimestamp(wake, UTC).isoformat()}}
                     for n, wake in zip(numbers, wakes, strict=True)]
            started += [result[0].pk for result in transaction_start_many(owner="test", transactions=items)]
        return started
    definition = json.loads((Path(__file__).parent / "pipelines" / f"{PIPELINE}.json").read_text())
    from_version = Pipeline.objects.get(pk=PIPELINE).current_version_id
    definition["steps"][-1]["config"] = {"version": V2_STAMP}
    to_version = pipeline_publish(definition=definition)[0].pk
    hits, held = [0], []

    def hold(tx):
        hits[0] += 1
        if len(held) < LONG_HOLDS:
            until = datetime.fromisoformat(tx.input["until"]).timestamp() - time.time()
            if tx.status == "queued" or 0 <= until < ACROSS:
                time.sleep(ACROSS + max(0.0, until))
                held.append([tx.pk, tx.status])
                return
        time.sleep(HOLD)

    faults.install(faults.VERSION_MOVE_AFTER_LOCK, hold)
    time.sleep(max(0.0, args["at"] - time.time()))
    job = bulk.version_move_start(pipeline=PIPELINE, from_version=from_version, to_version=to_version,
                                  actor="test", reason="race")
    # Above BULK_INLINE_MAX it was left to the nodes; either way this process runs its batches too, beside them.
    while BulkJob.objects.filter(pk=job.pk, status__in=bulk.OPEN).exists():
        if not bulk.bulk_apply_batch(job_id=job.pk):
            time.sleep(0.05)
    return {"job": job.pk, "from": from_version, "to": to_version, "hits": hits[0], "held": held}


if __name__ == "__main__":
    print(json.dumps(_main(sys.argv[1], json.loads(sys.argv[2])), default=str))
