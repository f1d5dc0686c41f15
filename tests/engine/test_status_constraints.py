"""Every status column holds only its vocabulary from engine.states: the database itself refuses the rest.

(`tests/test_smoke.py` checks that the migrations match the models, these constraints included.)
"""
import pytest
from django.apps import apps
from django.db import IntegrityError
from django.db import transaction as db_transaction
from django.db.models import CheckConstraint, Q, TextChoices

from engine import states
from engine.models import BulkJob, WebhookDelivery
from engine.services import schedules
from engine.services.figures import figures_refresh
from tests.api.conftest import PIPELINES

# Each constrained column and its vocabulary. The figures have no `choices` (no form edits them), but they
# copy the transaction statuses and wait reasons, so they are held to the same words.
CHECKED = {
    ("Transaction", "status"): states.TxStatus,
    ("StepRun", "status"): states.StepRunStatus,
    ("Sleeper", "reason"): states.WaitReason,
    ("Sleeper", "scope"): states.SwitchScope,
    ("Callback", "status"): states.CallbackStatus,
    ("CallbackUpdate", "status"): states.CallbackStatus,
    ("WebhookDelivery", "status"): states.WebhookStatus,
    ("BulkJob", "action"): states.BulkAction,
    ("BulkJob", "status"): states.BulkJobStatus,
    ("StatusFigure", "status"): states.TxStatus,
    ("SleeperFigure", "reason"): states.WaitReason,
    ("Schedule", "overlap"): states.ScheduleOverlap,
    ("ScheduleRun", "cause"): states.ScheduleRunCause,
    ("ScheduleEvent", "kind"): states.ScheduleEventKind,
}


def constraint_of(model, field):
    name = f"{model._meta.db_table}_{field}_valid"
    found = [c for c in model._meta.constraints if c.name == name]
    assert len(found) == 1, f"{model.__name__}.{field} has no constraint {name}"
    return found[0]


VOCABULARIES = [value for value in vars(states).values()
                if isinstance(value, type) and issubclass(value, TextChoices) and value is not TextChoices]


def test_every_field_with_a_vocabulary_from_states_is_checked():
    with_vocabulary = {
        (model.__name__, field.name)
        for model in apps.get_app_config("engine").get_models()
        for field in model._meta.fields
        if field.choices and any(list(field.choices) == list(vocabulary.choices) for vocabulary in VOCABULARIES)
    }
    assert len(with_vocabulary) == 12 and with_vocabulary <= set(CHECKED)


@pytest.mark.parametrize(("model_name", "field"), sorted(CHECKED))
def test_the_constraint_allows_exactly_the_vocabulary(model_name, field):
    model = apps.get_model("engine", model_name)
    constraint = constraint_of(model, field)
    assert isinstance(constraint, CheckConstraint)
    assert constraint.condition == Q(**{f"{field}__in": CHECKED[model_name, field].values})


@pytest.fixture
def rows(harness):
    """One row of every constrained table: a transaction asleep on a callback that has had an update,
    a webhook delivery, a bulk job, the figures, and a schedule with a run and its journal."""
    harness.load(*PIPELINES)
    tx_id = harness.start("hooked")
    harness.settle()
    assert harness.result(tx_id).status == "sleeping"
    harness.report_callback(tx_id, "progress", {"done": 1})
    WebhookDelivery.objects.create(tx_id=tx_id, owner_id=harness.owner, event="transaction.finished",
                                   url="https://hooks.example.com/", payload={}, created_at=harness.now())
    BulkJob.objects.create(action="wake", actor="user:ops", created_at=harness.now())
    figures_refresh()
    schedules.schedule_create(owner=harness.owner, name="nightly", actor="test", transaction_type="echo",
                              cron="0 2 * * *")
    assert schedules.schedule_trigger(name="nightly", actor="test")["action"] == "started"
    return harness


@pytest.mark.parametrize(("model_name", "field"), sorted(CHECKED))
def test_writing_a_value_outside_the_vocabulary_is_refused_by_the_database(rows, model_name, field):
    model = apps.get_model("engine", model_name)
    # One row only: the figures' unique keys include the status.
    one = model.objects.filter(pk=model.objects.values_list("pk", flat=True)[0])
    # A savepoint, so that PostgreSQL's aborted statement does not poison the test's transaction.
    with pytest.raises(IntegrityError), db_transaction.atomic():
        one.update(**{field: "bogus"})
    # Every value of the vocabulary is still accepted.
    for value in CHECKED[model_name, field].values:
        with db_transaction.atomic():
            assert one.update(**{field: value}) == 1
