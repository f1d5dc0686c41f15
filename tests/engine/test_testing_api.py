"""The crash helpers of engine.testing (issue 17): crash_next_run picks its run by step and transaction,
the harness absorbs the crash, advance_past_lease lets recovery run the step again, and leaving the
harness drops what is still armed. docs/testing.md's examples are run by test_testing_docs.py."""
import json
from datetime import timedelta

import pytest

from engine import conf
from engine.errors import InvalidPipeline
from engine.models import Pipeline
from engine.runtime import faults
from engine.testing import Crash, Harness

pytestmark = pytest.mark.django_db

TWO_STEPS = {"name": "two", "steps": [
    {"name": "first", "type": "util/set", "config": {"values": {"first": True}}},
    {"name": "second", "type": "util/set", "config": {"values": {"second": True}}},
]}


def test_the_next_run_of_any_step_crashes_once_and_the_test_sees_no_exception(harness):
    harness.load(TWO_STEPS)
    tx_id = harness.start("two", {})
    harness.crash_next_run()
    harness.settle()
    assert harness.result(tx_id).steps == [("first", "running")]
    assert harness.crashes == [Crash(tx_id, "first", 1)]
    moved = harness.advance_past_lease()
    assert moved == timedelta(seconds=conf.get("LEASE_SECONDS"))
    result = harness.result(tx_id)
    assert result.steps == [("first", "lost"), ("first", "success"), ("second", "success")]
    assert (result.status, result.data) == ("success", {"first": True, "second": True})


def test_a_named_step_crashes_and_the_steps_before_it_are_recorded(harness):
    harness.load(TWO_STEPS)
    tx_id = harness.start("two", {})
    harness.crash_next_run("second")
    harness.settle()
    assert harness.result(tx_id).steps == [("first", "success"), ("second", "running")]
    harness.advance_past_lease(tx_id)
    assert [(run.attempt, run.status) for run in harness.result(tx_id).runs("second")] == [(1, "lost"), (2, "success")]


def test_only_the_named_transaction_crashes(harness):
    harness.load(TWO_STEPS)
    spared, doomed = harness.start("two", {}), harness.start("two", {})
    harness.crash_next_run(tx_id=doomed)
    harness.settle()
    assert (harness.result(spared).status, harness.result(doomed).status) == ("success", "running")
    assert [crash.tx_id for crash in harness.crashes] == [doomed]


def test_times_crashes_that_many_runs_in_a_row_and_the_third_loss_ends_internal_error(harness):
    harness.load(TWO_STEPS)
    tx_id = harness.start("two", {})
    harness.crash_next_run("first", times=3)
    harness.settle()
    for attempt in (2, 3):
        harness.advance_past_lease()
        assert harness.crashes[-1] == Crash(tx_id, "first", attempt)
    harness.advance_past_lease()
    assert harness.result(tx_id).status == "internal_error"
    with pytest.raises(ValueError):
        harness.crash_next_run(times=0)


def test_advance_past_lease_moves_nothing_when_no_lease_is_held(harness):
    harness.load(TWO_STEPS)
    harness.run(harness.start("two", {}))
    before = harness.now()
    assert harness.advance_past_lease() == timedelta(0)
    assert harness.now() == before


def test_leaving_the_harness_drops_an_armed_crash(db):
    with Harness() as h:
        h.load(TWO_STEPS)
        h.crash_next_run("second")
    assert faults.AFTER_STEP_BEFORE_CHECKPOINT not in faults._hooks
    with Harness() as h:
        assert h.run(h.start("two", {})).status == "success"
        assert h.crashes == []


def test_a_hook_installed_by_hand_still_raises_its_own_crash(harness):
    harness.load(TWO_STEPS)
    harness.start("two", {})

    def crash(run):
        raise faults.WorkerCrash()

    faults.install(faults.AFTER_STEP_BEFORE_CHECKPOINT, crash)
    with pytest.raises(faults.WorkerCrash):
        harness.settle()


def test_load_takes_a_json_file_or_a_folder_of_them_as_datp_load_pipelines_does(harness, tmp_path):
    (tmp_path / "parent.json").write_text(json.dumps(
        {"name": "file-parent", "steps": [{"type": "util/child-pipeline", "config": {"pipeline": "file-child"}}]}))
    (tmp_path / "child.json").write_text(json.dumps(
        {"name": "file-child", "transaction_type": False, "steps": [{"type": "util/set", "config": {"values": {"ok": 1}}}]}))
    versions = harness.load(tmp_path)  # a folder: the parent names a child loaded in the same call
    assert sorted(v.pipeline_id for v in versions) == ["file-child", "file-parent"]
    assert harness.load(str(tmp_path / "child.json"))[0].pipeline_id == "file-child"
    assert harness.run(harness.start("file-parent")).status == "success"


def test_load_of_a_file_that_is_not_json_names_it_and_stores_nothing(harness, tmp_path):
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(InvalidPipeline) as raised:
        harness.load({"name": "alone", "steps": [{"type": "util/echo"}]}, tmp_path / "broken.json")
    assert raised.value.errors[0].startswith(f"{tmp_path / 'broken.json'}: not valid JSON (")
    assert not Pipeline.objects.filter(pk="alone").exists()
