"""Rewind from the console (issue 22): the Transaction page offers "Rewind…" to operators for every status but
running; the rewind page shows the steps it ran and the target version's steps with the data each would start
with; a rewind goes through the service as the user, a refusal shows the engine's message and changes nothing,
and the journal says what the rewind did."""
import json
import re

import pytest
from django.contrib.messages import get_messages

from engine.models import JournalEntry, Transaction
from tests.monitoring.rewind_pipelines import ORDER, order_fixed


def page_of(tx_id):
    return f"/mondat/transactions/{tx_id}/"


def rewind_url(tx_id):
    return f"/mondat/transactions/{tx_id}/rewind"


def flashed(response):
    return [str(message) for message in get_messages(response.wsgi_request)]


def row(tx_id):
    return Transaction.objects.get(pk=tx_id)


def rewinds(tx_id):
    return list(JournalEntry.objects.filter(tx_id=tx_id, kind="rewind").order_by("id"))


@pytest.fixture
def versions(world):
    """The order pipeline (its charge broken); the fixed version is published by `fixed`."""
    [old] = world.load(ORDER)
    return {"old": old.pk}


@pytest.fixture
def failed(world, versions):
    tx_id = world.start("rc-order", {"order": 7, "note": "<b>bold</b>"})
    assert world.run(tx_id).status == "failed"
    return tx_id


@pytest.fixture
def fixed(world, versions):
    [new] = world.load(order_fixed())
    versions["new"] = new.pk
    return new.pk


def test_operators_are_offered_rewind_for_every_status_but_running_and_viewers_never(world, operator, viewer,
                                                                                      failed):
    assert f'href="/mondat/transactions/{failed}/rewind"' in operator.get(page_of(failed)).content.decode()
    assert "/rewind" not in viewer.get(page_of(failed)).content.decode()
    waiting = world.start("approval", {})
    world.settle()
    assert "Rewind…" in operator.get(page_of(waiting)).content.decode()
    Transaction.objects.filter(pk=waiting).update(status="running")
    assert "Rewind…" not in operator.get(page_of(waiting)).content.decode()


def test_the_rewind_page_shows_the_steps_it_ran_and_the_target_versions_steps_with_their_data(operator, failed,
                                                                                             versions, fixed):
    response = operator.get(rewind_url(failed))
    assert response.status_code == 200
    html = response.content.decode()
    runs = response.context["runs"]
    assert [(r["run"].seq, r["run"].step, r["run"].status) for r in runs] == [(1, "prepare", "success"),
                                                                              (2, "charge", "failed")]
    assert [r["picked"] for r in runs] == [False, True]  # the step it ended at is picked by default
    assert 'id="pick-run-2" checked' in html
    steps = {step["name"]: step for step in response.context["steps"]}
    assert list(steps) == ["prepare", "charge", "approve", "ship"]
    assert steps["charge"]["default"]["source"] == "the input of step run 2"
    assert json.loads(steps["charge"]["default"]["json"]) == {"order": 7, "note": "<b>bold</b>", "prepared": True}
    assert steps["prepare"]["default"]["source"] == "the input of step run 1"
    assert steps["ship"]["default"] is None and "it never ran: give the data" in html
    assert "&lt;b&gt;bold&lt;/b&gt;" in html and "<b>bold</b>" not in html
    assert response.context["target"] == versions["old"]
    values = [value for value, _ in response.context["choices"]]
    assert values == ["", "current"]  # the fixed version is the one in use: no third choice
    assert 'name="webhook_again"' not in html  # the transaction has no webhook


def test_another_version_shows_its_own_steps(world, operator, failed, versions, fixed):
    world.load(ORDER)  # the broken one in use again: the fixed one is an "other" version
    response = operator.get(rewind_url(failed), {"version": fixed})
    assert [value for value, _ in response.context["choices"]] == ["", "current", fixed]
    assert response.context["target"] == fixed
    assert response.context["target_short"] == fixed[:12]
    html = response.content.decode()
    assert f'name="version" value="{fixed}"' in html
    unknown = operator.get(rewind_url(failed), {"version": "nope"})
    assert unknown.status_code == 200 and "has no version nope" in unknown.content.decode()
    assert unknown.context["target"] == versions["old"]


def test_a_failed_transaction_rewound_onto_the_fixed_version_runs_again_from_its_step(world, operator, failed,
                                                                                      versions, fixed):
    response = operator.post(rewind_url(failed), {"to_step": "charge", "version": "current",
                                                  "reason": "bug 4711 fixed", "data": ""})
    assert response.status_code == 302 and response["Location"] == page_of(failed)
    assert flashed(response) == [f"Rewound to step charge on version {fixed[:12]}: the transaction is queued."]
    tx = row(failed)
    assert (tx.status, tx.step_name, tx.version_id) == ("queued", "charge", fixed)
    [entry] = rewinds(failed)
    assert (entry.actor, entry.data["reason"], entry.data["from"], entry.data["version"]) == \
        ("user:otto", "bug 4711 fixed", "failed", fixed)
    assert entry.data["data_from"] == "step run 2"
    assert world.run(failed).status == "sleeping"  # charged, and waiting at approve
    world.set_switch(failed, "approved", True)
    result = world.run(failed)
    assert result.status == "success"
    assert result.data == {"order": 7, "note": "<b>bold</b>", "prepared": True, "charged": True, "shipped": True}


def test_the_journal_shows_the_rewind_in_words(world, operator, failed, versions, fixed):
    operator.post(rewind_url(failed), {"to_step": "charge", "version": "current", "reason": "bug <4711> fixed"})
    response = operator.get(page_of(failed))
    html = response.content.decode()
    journal = html[html.index('id="journal"'):]
    line = re.search(r'<div class="journal-line">(.*?)</div>', journal).group(1)
    assert line == (f"Rewound from charge (failed, version {versions['old'][:12]}) to step charge on version "
                    f"{fixed[:12]}; its data: the input of step run 2; reason: bug &lt;4711&gt; fixed")
    assert 'class="journal-rewind"' in journal


def test_given_data_is_what_the_step_starts_with(world, operator, failed, fixed):
    response = operator.post(rewind_url(failed), {"to_step": "charge", "version": "current", "reason": "retyped",
                                                  "data": '{"order": 8}'})
    assert response.status_code == 302
    assert rewinds(failed)[0].data["data_from"] == "given"
    world.run(failed)
    world.set_switch(failed, "approved", True)
    assert world.run(failed).data == {"order": 8, "charged": True, "shipped": True}


@pytest.mark.parametrize(("form", "status", "message"), [
    ({"to_step": "charge", "reason": ""}, 400, "Give a reason to rewind the transaction: nothing was done."),
    ({"to_step": "", "reason": "r"}, 400, "Pick the step to run again: nothing was done."),
    ({"to_step": "charge", "reason": "r", "data": "{not json"}, 400, "The data is not valid JSON"),
    ({"to_step": "charge", "reason": "r", "data": "[1, 2]"}, 400, "data: Must be an object."),
    ({"to_step": "ship", "reason": "r"}, 409, "The transaction never ran step 'ship'"),
    ({"to_step": "refund", "reason": "r"}, 409, "has no step 'refund'"),
    ({"to_step": "charge", "reason": "r", "version": "0" * 64}, 404, "has no version"),
    ({"to_step": "charge", "reason": "r", "deadline": "soon"}, 400, "deadline"),
])
def test_a_refused_rewind_shows_the_engines_message_and_changes_nothing(operator, failed, form, status, message):
    before = row(failed)
    response = operator.post(rewind_url(failed), form)
    assert response.status_code == status
    assert message in response.context["error"]
    assert 'class="msg msg-error rewind-error" role="alert"' in response.content.decode()
    after = row(failed)
    assert (after.status, after.step_name, after.version_id, after.updated_at) == \
        (before.status, before.step_name, before.version_id, before.updated_at)
    assert rewinds(failed) == []
    assert response.context["entered"]["reason"] == form["reason"]  # what was typed is kept


def test_a_running_transaction_is_refused(world, operator, failed):
    Transaction.objects.filter(pk=failed).update(status="running")
    page = operator.get(rewind_url(failed)).content.decode()
    assert "A running transaction cannot be rewound" in page
    response = operator.post(rewind_url(failed), {"to_step": "charge", "reason": "r"})
    assert response.status_code == 409 and "running a step" in response.context["error"]
    assert row(failed).status == "running" and rewinds(failed) == []


def test_a_child_whose_parent_finished_is_refused_with_its_reason(world, operator):
    world.load({"name": "rc-parent", "steps": [{"name": "call", "type": "util/child-pipeline",
                                                "config": {"pipeline": "helper"}}]})
    parent = world.start("rc-parent", {})
    world.settle()
    [child] = Transaction.objects.filter(parent_id=parent).values_list("pk", flat=True)
    response = operator.post(rewind_url(child), {"to_step": "echo", "reason": "r"})
    assert response.status_code == 409 and "parent" in response.context["error"]


def test_the_webhook_choice_is_offered_only_with_a_webhook_and_is_passed_on(world, operator, versions):
    tx_id = world.start("rc-order", {}, webhook="https://hooks.example.com/a")
    world.run(tx_id)
    page = operator.get(rewind_url(tx_id)).content.decode()
    assert 'name="webhook_again"' in page
    operator.post(rewind_url(tx_id), {"to_step": "charge", "reason": "r", "webhook_again": "on"})
    assert rewinds(tx_id)[0].data["webhook"] == "again"


def test_viewers_may_not_rewind_and_another_owners_operator_finds_nothing(viewer, other_operator, failed):
    assert viewer.get(rewind_url(failed)).status_code == 403
    assert viewer.post(rewind_url(failed), {"to_step": "charge", "reason": "r"}).status_code == 403
    assert other_operator.get(rewind_url(failed)).status_code == 404
    assert other_operator.post(rewind_url(failed), {"to_step": "charge", "reason": "r"}).status_code == 404
    assert row(failed).status == "failed" and rewinds(failed) == []


def test_the_rewind_page_reads_a_fixed_number_of_queries(world, operator, failed, django_assert_max_num_queries):
    for _ in range(3):
        operator.post(rewind_url(failed), {"to_step": "charge", "reason": "again"})
        world.run(failed)
    with django_assert_max_num_queries(14):
        response = operator.get(rewind_url(failed))
    assert len(response.context["runs"]) == 5
