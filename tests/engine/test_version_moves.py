"""Version moves (issue 22): the dry run says per step whether it exists in the target version, where the
transactions resume and what changes; the move (a bulk job) moves each sleeping or queued transaction on its
own, journaled, skips those whose step the target lacks or that a node holds, and they go on there."""
import pytest

from engine.errors import (
    InvalidRequest,
    StepNotInVersion,
    VersionMoved,
    VersionNotFound,
)
from engine.models import BulkJob, JournalEntry, Transaction
from engine.services import bulk, version_moves
from tests.version_pipelines import move_versions

V1, V2 = move_versions("vm-order")


def _load_both(harness):
    [v1] = harness.load(V1)
    [v2] = harness.load(V2)
    return v1.pk, v2.pk


def test_step_changes_name_type_config_retry_and_routes():
    changes = version_moves.step_changes(V1, V2)
    assert changes["prepare"] == {"exists": True, "changes": ["config"]}
    assert changes["approve"] == {"exists": True, "changes": ["config", "on success: nap -> ship",
                                                              "on timeout: - -> ship"]}
    assert changes["nap"] == {"exists": False, "changes": []}
    assert changes["ship"] == {"exists": True, "changes": ["config"]}
    renamed = {"steps": [{**V1["steps"][0], "type": "util/echo"}]}
    assert version_moves.step_changes(V1, renamed)["prepare"]["changes"][0] == "type util/set -> util/echo"


def test_the_dry_run_lists_each_transaction_and_changes_nothing(harness):
    [v1] = harness.load(V1)
    approving = [harness.start("vm-order", {"n": n}) for n in range(3)]
    for tx in approving:
        harness.run(tx)
    napping = harness.start("vm-order", {"n": 9})
    harness.run(napping)
    harness.set_switch(napping, "approved", True)
    harness.settle()
    queued = harness.start("vm-order", {"n": 10})
    [v2] = harness.load(V2)
    preview = version_moves.version_move_preview(pipeline="vm-order", from_version=v1.pk, to_version=v2.pk)
    assert (preview["count"], preview["moves"], preview["stays"]) == (5, 4, 1)
    steps = {entry["step"]: entry for entry in preview["steps"]}
    assert steps["approve"]["sleeping"] == 3 and steps["approve"]["moves"] is True
    assert steps["nap"]["moves"] is False and "not in the target version" in steps["nap"]["why"]
    assert steps["prepare"]["queued"] == 1 and steps["prepare"]["changes"] == ["config"]
    rows = {row["tx_id"]: row for row in preview["transactions"]}
    assert rows[napping]["moves"] is False and rows[napping]["waiting"] == "timer"
    assert rows[approving[0]]["resumes_at"] == "approve" and rows[approving[0]]["waiting"] == "switch"
    assert rows[queued]["status"] == "queued" and rows[queued]["waiting"] is None
    assert set(Transaction.objects.values_list("version_id", flat=True)) == {v1.pk}
    assert not JournalEntry.objects.filter(kind="version_move").exists()


def test_the_move_moves_each_and_they_go_on_in_the_new_version(harness):
    v1, v2 = _load_both(harness)
    harness.load(V1)  # v1 in use again, so new starts pin to it
    done = harness.start("vm-order", {"n": 11})
    harness.run(done)
    harness.set_switch(done, "approved", True)
    harness.run(done)
    sleepers = [harness.start("vm-order", {"n": n}) for n in range(4)]
    for tx in sleepers:
        harness.run(tx)
    napping = harness.start("vm-order", {"n": 9})
    harness.run(napping)
    harness.set_switch(napping, "approved", True)
    harness.settle()
    job = harness.move_version("vm-order", v1, v2, reason="approve may time out now")
    assert (job.action, job.status, job.total, job.done, job.skipped) == ("move_version", "done", 5, 4, 1)
    assert set(Transaction.objects.filter(pk__in=sleepers).values_list("version_id", flat=True)) == {v2}
    assert Transaction.objects.get(pk=napping).version_id == v1  # its step is not in v2: it stays
    assert Transaction.objects.get(pk=done).version_id == v1  # ended: not moved
    entries = JournalEntry.objects.filter(kind="version_move").order_by("tx_id")
    assert sorted(entry.tx_id for entry in entries) == sorted(sleepers)
    assert all(entry.data["from_version"] == v1 and entry.data["to_version"] == v2 and entry.actor == "app:test"
               and entry.data["reason"] == "approve may time out now" for entry in entries)
    harness.set_switch(sleepers[0], "approved", True)
    assert harness.run(sleepers[0]).data == {"n": 0, "v": 1, "shipped": 2}  # ship of v2, nap skipped
    # A moved sleeper keeps the wait it sleeps on; woken, its step runs as v2 has it (with a timeout to ship)
    assert harness.result(sleepers[1]).sleeper.timeout_at is None
    harness.wake(sleepers[1])
    harness.settle()
    assert harness.result(sleepers[1]).sleeper.timeout_at is not None
    harness.advance("P2D")
    assert harness.result(sleepers[1]).data == {"n": 1, "v": 1, "shipped": 2}


def test_a_transaction_a_node_holds_or_moved_is_skipped(harness):
    v1, v2 = _load_both(harness)
    harness.load(V1)
    tx = harness.start("vm-order", {})
    Transaction.objects.filter(pk=tx).update(version_id=v2)  # moved by somebody else meanwhile
    with pytest.raises(VersionMoved):
        version_moves.transaction_move_version(tx_id=tx, from_version=v1, to_version=v2, actor="test")
    napping = harness.start("vm-order", {})
    harness.run(napping)
    harness.set_switch(napping, "approved", True)
    harness.settle()
    with pytest.raises(StepNotInVersion):
        version_moves.transaction_move_version(tx_id=napping, from_version=v1, to_version=v2, actor="test")
    assert Transaction.objects.get(pk=napping).version_id == v1


def test_bad_versions_are_refused(harness):
    v1, _ = _load_both(harness)
    with pytest.raises(VersionNotFound):
        version_moves.version_move_preview(pipeline="vm-order", from_version=v1, to_version="0" * 64)
    with pytest.raises(InvalidRequest):
        version_moves.version_move_preview(pipeline="vm-order", from_version=v1, to_version=v1)
    with pytest.raises(VersionNotFound):
        harness.move_version("vm-order", v1, "nope")
    assert not BulkJob.objects.exists()


def test_a_batch_whose_job_another_node_moved_on_applies_nothing_and_the_counts_stay_exact(harness, settings):
    settings.DATP = {**settings.DATP, "BULK_BATCH": 2, "BULK_INLINE_MAX": 0}
    v1, v2 = _load_both(harness)
    harness.load(V1)
    sleepers = [harness.start("vm-order", {"n": n}) for n in range(5)]
    harness.settle()
    job = bulk.version_move_start(pipeline="vm-order", from_version=v1, to_version=v2, actor="test")
    assert (job.status, job.total) == ("pending", 5)
    assert bulk.bulk_apply_batch(job_id=job.pk)  # the first batch of 2, each in its own database transaction
    stale = BulkJob.objects.get(pk=job.pk)
    stale.cursor = None  # what a node that read the job before that batch holds
    rows = bulk._next_rows(stale)
    assert len(rows) == 2
    assert bulk._apply_alone(stale, rows, more=True, now=harness.now()) is False
    job.refresh_from_db()
    assert (job.done, job.skipped) == (2, 0)
    while bulk.bulk_apply_batch(job_id=job.pk):
        pass
    job.refresh_from_db()
    assert (job.status, job.done, job.skipped) == ("done", 5, 0)
    assert JournalEntry.objects.filter(kind="version_move", tx_id__in=sleepers).count() == 5
