"""Concurrent starts in one process share a statement and a commit (engine.services.state.start_group), and
write exactly what starts one at a time write (PostgreSQL, real threads, each on its own connection)."""
import threading

import pytest
from django.db import connection

from engine.models import JournalEntry, Transaction
from engine.services import statements
from engine.services.pipelines import pipeline_publish
from engine.services.state import start, start_group
from engine.services.transactions import transaction_start

# Group commit is a fast path's: these run with the fast paths on in the pass that turns them off elsewhere.
pytestmark = [pytest.mark.postgres_only, pytest.mark.fast_paths, pytest.mark.django_db(transaction=True)]

ECHO = {"name": "grouped", "steps": [{"name": "one", "type": "util/echo"}]}
OTHER = {"name": "grouped-too", "node_group": "other", "steps": [{"name": "one", "type": "util/echo"}]}


def _in_thread(work, results, index):
    try:
        results[index] = work()
    except Exception as exc:  # noqa: BLE001 - the test reads what each start did
        results[index] = exc
    finally:
        connection.close()


def _held_leader(monkeypatch):
    """Hold the first lone write until released, so that the starts arriving meanwhile queue up as a group;
    count the group statements."""
    entered, release, groups = threading.Event(), threading.Event(), []
    alone, many = start._insert_one, start_group._insert_many

    def held(tx, **kwargs):
        if not entered.is_set():
            entered.set()
            release.wait(10)
        return alone(tx, **kwargs)

    def counted(group):
        written = many(group)
        groups.append(len(written))  # rows the group statement wrote
        return written

    monkeypatch.setattr(start, "_insert_one", held)
    monkeypatch.setattr(start_group, "_insert_many", counted)
    return entered, release, groups


def _queued(count):
    """Wait until `count` starts wait in the group."""
    for _ in range(1000):
        with start_group.group._lock:
            if len(start_group.group._queued) >= count:
                return
        threading.Event().wait(0.005)
    raise AssertionError("the starts did not queue up")


def _starts(harness, monkeypatch, calls):
    """Run the first of `calls` (each a start's keyword arguments) as the held leader, then the others at once
    in a group: each one's result, in order, and the sizes of the group statements."""
    entered, release, groups = _held_leader(monkeypatch)
    results = [None] * len(calls)
    threads = [threading.Thread(target=_in_thread, args=(lambda kw=kw: transaction_start(owner="test", **kw),
                                                          results, index)) for index, kw in enumerate(calls)]
    threads[0].start()
    assert entered.wait(10)
    for thread in threads[1:]:
        thread.start()
    _queued(len(calls) - 1)
    release.set()
    for thread in threads:
        thread.join(20)
    return results, groups


def test_starts_arriving_while_one_is_written_are_written_together_in_one_statement(harness, monkeypatch):
    harness.load(ECHO, OTHER)
    start._pipelines.clear()  # read afresh (another test may have left a row of the same name)
    calls = [{"transaction_type": "grouped", "data": {"n": n}} for n in range(6)]
    calls.append({"transaction_type": "grouped-too", "data": {"n": 6}, "metadata": {"k": "v"}})
    results, groups = _starts(harness, monkeypatch, calls)
    assert groups == [6]
    assert all(created for _tx, created in results)
    rows = {tx.pk: tx for tx in Transaction.objects.all()}
    assert [rows[tx.pk].input for tx, _ in results] == [{"n": n} for n in range(7)]
    assert rows[results[6][0].pk].node_group_id == "other" and rows[results[6][0].pk].metadata == {"k": "v"}
    assert JournalEntry.objects.filter(kind="created").count() == 7
    for tx_id in rows:
        assert harness.run(tx_id).status == "success"


def test_a_start_written_in_a_group_writes_what_a_start_written_alone_writes(harness):
    harness.load(ECHO)
    built = [start.new_transaction(owner="test", transaction_type="grouped", data={"n": 1},
                                   metadata={"m": [1, {"x": None}]}, deadline="PT1H", now=harness.now(),
                                   external_id=f"ext-{n}", webhook="https://example.com/hook", webhook_progress=True,
                                   cached=True) for n in range(3)]
    start._insert_one(built[0][0], actor="api", created=built[0][1])
    assert start_group._insert_many([start_group._Start(tx, "api", created) for tx, created in built[1:]]) == {
        built[1][0].pk, built[2][0].pk}

    def seen(tx_id):
        row = Transaction.objects.filter(pk=tx_id).values().get()
        entries = [{**entry, "data": {**entry["data"], "external_id": "-"}} for entry in
                   JournalEntry.objects.filter(tx_id=tx_id).values("at", "kind", "actor", "step", "data")]
        return {**{key: value for key, value in row.items() if key not in ("id", "external_id")}, "journal": entries}

    assert seen(built[1][0].pk) == seen(built[0][0].pk) == seen(built[2][0].pk)


def test_grouped_starts_whose_pipeline_was_published_since_are_written_alone_at_the_version_in_use(
        harness, monkeypatch):
    harness.load(ECHO)
    transaction_start(owner="test", transaction_type="grouped", data={})  # this process caches the pipeline
    stale = start._pipelines["grouped"]
    pipeline_publish(definition={**ECHO, "steps": [{"name": "renamed", "type": "util/echo"}]})
    start._pipelines["grouped"] = stale  # as another process's publish leaves this one's cache
    results, groups = _starts(harness, monkeypatch, [{"transaction_type": "grouped", "data": {"n": n}}
                                                     for n in range(4)])
    assert groups[0] == 0  # none: then each is written again, alone or in groups, from a fresh read
    for tx, created in results:
        assert created and Transaction.objects.get(pk=tx.pk).step_name == "renamed"


def test_grouped_starts_with_one_external_id_make_one_transaction_and_replays_or_refusals(harness, monkeypatch):
    harness.load(ECHO)
    transaction_start(owner="test", transaction_type="grouped", data={})  # this process reads the pipeline
    calls = [{"transaction_type": "grouped", "data": {"n": 0}},
             {"transaction_type": "grouped", "data": {"n": 1}, "external_id": "once"},
             {"transaction_type": "grouped", "data": {"n": 1}, "external_id": "once"},  # a replay
             {"transaction_type": "grouped", "data": {"n": 9}, "external_id": "once"},  # a different start
             {"transaction_type": "grouped", "data": {"n": 2}}]
    results, groups = _starts(harness, monkeypatch, calls)
    assert groups == [2]  # n 2 and the first "once" to arrive (n 0 led, alone); the other two decide alone
    [winner] = [index for index in (1, 2, 3) if isinstance(results[index], tuple) and results[index][1]]
    once = Transaction.objects.get(external_id="once")
    assert results[winner][0].pk == once.pk
    for index in {1, 2, 3} - {winner}:
        if calls[index]["data"] == calls[winner]["data"]:
            assert results[index] == (once, False)  # a replay
        else:
            assert type(results[index]).__name__ == "DuplicateExternalId"
    assert Transaction.objects.count() == 4  # the first, n 0, "once" and n 2


def test_a_start_inside_an_atomic_block_never_joins_a_group(harness):
    from django.db import transaction

    harness.load(ECHO)
    with transaction.atomic():
        assert not start_group.joins_group()
    assert start_group.joins_group() is bool(statements.fast_paths())
