"""`manage.py datp_load_pipelines`: loads files and folders all or nothing, and the shipped examples run."""
import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from engine.models import Pipeline, PipelineVersion

pytestmark = pytest.mark.django_db

SHIPPED = Path(__file__).resolve().parents[2] / "pipelines"
ECHO = {"type": "util/echo"}


def write(folder, name, content):
    path = folder / name
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def load(*paths):
    out = StringIO()
    call_command("datp_load_pipelines", *map(str, paths), stdout=out)
    return out.getvalue()


def test_files_and_folders_are_all_loaded_and_only_json_files_are_read(tmp_path):
    folder = tmp_path / "defs"
    folder.mkdir()
    write(folder, "a.json", {"name": "a", "steps": [ECHO]})
    write(folder, "b.json", {"name": "b", "steps": [ECHO]})
    write(folder, "notes.txt", "not a pipeline")
    single = write(tmp_path, "c.json", {"name": "c", "steps": [ECHO]})
    out = load(folder, single)
    assert set(Pipeline.objects.values_list("name", flat=True)) == {"a", "b", "c"}
    assert out.count("new version") == 3
    for name in ("a", "b", "c"):
        version = Pipeline.objects.get(pk=name).current_version_id
        assert f"{name}: new version {version[:12]}" in out


def test_loading_the_same_files_again_reports_them_unchanged_and_stores_nothing_new(tmp_path):
    write(tmp_path, "a.json", {"name": "a", "steps": [ECHO]})
    load(tmp_path)
    out = load(tmp_path)
    assert "a: unchanged" in out
    assert PipelineVersion.objects.count() == 1


def test_a_changed_file_publishes_a_new_version_in_use(tmp_path):
    path = write(tmp_path, "a.json", {"name": "a", "steps": [ECHO]})
    load(path)
    first = Pipeline.objects.get(pk="a").current_version_id
    write(tmp_path, "a.json", {"name": "a", "steps": [ECHO, ECHO]})
    assert "a: new version" in load(path)
    assert Pipeline.objects.get(pk="a").current_version_id != first
    assert PipelineVersion.objects.filter(pipeline_id="a").count() == 2


def test_every_problem_is_reported_with_its_file_and_path_and_nothing_is_stored(tmp_path):
    good = write(tmp_path, "good.json", {"name": "good", "steps": [ECHO]})
    bad = write(tmp_path, "bad.json", {"name": "bad", "steps": [{"type": "util/nope"},
                                                                {"type": "util/sleep", "config": {"duration": "x"}}]})
    worse = write(tmp_path, "worse.json", {"name": "Worse", "steps": [ECHO]})
    with pytest.raises(CommandError) as caught:
        load(tmp_path)
    message = str(caught.value)
    assert f"{bad}: steps[0].type: unknown step type 'util/nope'" in message
    assert f"{bad}: steps[1].config.duration: not an ISO 8601 duration" in message
    assert f"{worse}: name:" in message
    assert str(good) not in message
    assert "Nothing was stored." in message
    assert not Pipeline.objects.exists()
    assert not PipelineVersion.objects.exists()


def test_a_file_that_is_not_json_is_reported_and_nothing_is_stored(tmp_path):
    write(tmp_path, "good.json", {"name": "good", "steps": [ECHO]})
    broken = write(tmp_path, "broken.json", '{"name": "broken", "steps": [')
    with pytest.raises(CommandError) as caught:
        load(tmp_path)
    assert f"{broken}: not valid JSON" in str(caught.value)
    assert not Pipeline.objects.exists()


def test_a_path_that_does_not_exist_is_an_error_and_nothing_is_stored(tmp_path):
    write(tmp_path, "good.json", {"name": "good", "steps": [ECHO]})
    missing = tmp_path / "missing.json"
    with pytest.raises(CommandError) as caught:
        load(tmp_path, missing)
    assert f"{missing}: no such file or folder" in str(caught.value)
    assert not Pipeline.objects.exists()


def test_a_definition_that_is_not_an_object_is_reported(tmp_path):
    listed = write(tmp_path, "list.json", [{"name": "a", "steps": [ECHO]}])
    with pytest.raises(CommandError) as caught:
        load(listed)
    assert f"{listed}: (root): a pipeline definition must be a JSON object" in str(caught.value)


# The pipelines shipped in pipelines/ ----------------------------------------------------------

EXAMPLES = ["example", "example-sleep", "example-switch", "example-await", "example-child"]


def test_the_shipped_pipelines_load_together(harness):
    out = load(SHIPPED)
    names = set(Pipeline.objects.values_list("name", flat=True))
    assert set(EXAMPLES) | {"example-background", "example-child-a", "example-child-b"} <= names
    assert "Nothing was stored" not in out
    starters = set(Pipeline.objects.filter(transaction_type=True).values_list("name", flat=True))
    assert set(EXAMPLES) <= starters
    assert not starters & {"example-background", "example-child-a", "example-child-b"}


@pytest.mark.parametrize("name", EXAMPLES)
def test_each_shipped_example_finishes_with_success_on_an_empty_input(harness, name):
    load(SHIPPED)
    tx_id = harness.start(name, {})
    result = harness.run(tx_id)
    if name == "example-switch":
        assert result.status == "sleeping"
        harness.set_switch(tx_id, "approved", True)
        result = harness.run(tx_id)
    assert result.status == "success", (result.note, result.steps)


def test_the_shipped_examples_produce_their_documented_outputs(harness):
    load(SHIPPED)
    example = harness.run(harness.start("example", {}))
    assert example.data == {"greeting": "Hello from DATP"}
    assert example.tx.progress == {"done": 2, "of": 3}
    sleep_tx = harness.start("example-sleep", {})
    started = harness.now()
    sleep = harness.run(sleep_tx)
    assert (sleep.tx.completed_at - started).total_seconds() == pytest.approx(10, abs=1)
    awaited = harness.run(harness.start("example-await", {}))
    assert awaited.data["report"] == "ready"
    assert awaited.data["requested"] == "report"
    child_b = harness.run(harness.start("example-child", {"kind": "b"}))
    assert child_b.data == {"kind": "b", "handled_by": "example-child-b"}
    child_default = harness.run(harness.start("example-child", {}))
    assert child_default.data == {"handled_by": "example-child-a"}


def test_the_shipped_expense_and_trial_examples_branch_and_take_settings_from_data(harness):
    call_command("datp_load_pipelines", str(SHIPPED), stdout=StringIO())
    paid = harness.run(harness.start("example-expense", {"amount": 40, "receipt": "r-1"}))
    assert (paid.status, paid.steps) == ("success", [("decide", "approve"), ("pay", "success")])
    rejected = harness.run(harness.start("example-expense", {"amount": 40}))
    assert (rejected.status, rejected.steps, rejected.data) == ("success", [("decide", "reject")], {"amount": 40})
    large = harness.start("example-expense", {"amount": 5000, "receipt": "r-2"})
    harness.settle()
    harness.set_switch(large, "approved", True)
    assert harness.run(large).steps == [("decide", "review"), ("approval", "sleeping"), ("approval", "success"),
                                        ("pay", "success")]
    trial = harness.run(harness.start("example-trial", {"trial_period": "P14D"}))
    assert (trial.status, trial.data) == ("success", {"trial_period": "P14D", "billed": True})
    missing = harness.run(harness.start("example-trial", {}))
    assert (missing.status, missing.steps) == ("failed", [("trial", "failed")])
    assert "setting `duration` from `/trial_period`: no value at that path" in missing.note
