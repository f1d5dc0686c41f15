"""Version moves from the console (issue 22): the pipeline page's picker, the dry run (which changes nothing), the
confirm that starts the bulk job over the user's owners and leads to its progress page; the same move as a bulk
action of a list filtered to one type; the admin's "Move to the pipeline's version in use"; roles and refusals."""
import copy

import pytest
from django.contrib.messages import get_messages

from engine.models import BulkJob, JournalEntry, Transaction
from engine.services import bulk
from tests.monitoring.conftest import login, make_user
from tests.monitoring.rewind_pipelines import MOVE_V1, move_world


def move_url(name="vm-console"):
    return f"/mondat/pipelines/{name}/move/"


def flashed(response):
    return [str(message) for message in get_messages(response.wsgi_request)]


def version_of(tx_ids):
    return {tx_id: Transaction.objects.get(pk=tx_id).version_id for tx_id in tx_ids}


@pytest.fixture
def moves(world):
    """vm-console with v1 in use: three transactions at approve, one at nap (v2 lacks it), one ended; and one
    of the other owner at approve."""
    v1, v2, waiting, napping, ended = move_world(world)
    theirs = world.start("vm-console", {}, owner="other")
    world.settle()  # (run would move time on, to the end of the nap)
    return {"v1": v1, "v2": v2, "waiting": waiting, "napping": napping, "ended": ended, "theirs": theirs,
            "all": [*waiting, napping, ended, theirs]}


@pytest.fixture
def small_jobs(settings):
    settings.DATP = {**settings.DATP, "BULK_INLINE_MAX": 2, "BULK_BATCH": 2}


def test_the_pipeline_page_offers_the_move_to_operators_with_the_version_in_use_as_target(operator, viewer, moves):
    response = operator.get("/mondat/pipelines/vm-console/")
    html = response.content.decode()
    assert 'id="move"' in html and f'action="{move_url()}"' in html
    assert response.context["to_version"] == moves["v1"]  # in use
    assert response.context["suggested"] == moves["v2"]  # the newest other one
    assert [version for version, _ in response.context["move_versions"]] == [moves["v2"], moves["v1"]]  # newest first
    assert 'id="move"' not in viewer.get("/mondat/pipelines/vm-console/").content.decode()
    assert 'id="move"' not in operator.get("/mondat/pipelines/echo/").content.decode()  # one version only


def test_the_dry_run_counts_per_step_lists_the_transactions_and_changes_nothing(operator, moves):
    response = operator.get(move_url(), {"from_version": moves["v1"], "to_version": moves["v2"]})
    assert response.status_code == 200
    move = response.context["move"]
    assert (move["count"], move["moves"], move["stays"]) == (4, 3, 1)  # the other owner's is not counted
    steps = {entry["step"]: entry for entry in move["steps"]}
    assert steps["approve"]["sleeping"] == 3 and steps["approve"]["moves"] is True
    assert steps["approve"]["changes"] == ["config", "on success: nap -> ship", "on timeout: - -> ship"]
    assert steps["nap"]["moves"] is False
    html = response.content.decode()
    assert "on success: nap -&gt; ship" in html and "step &#x27;nap&#x27; is not in the target version" in html
    for tx_id in moves["waiting"]:
        assert f'href="/mondat/transactions/{tx_id}/"' in html
    assert moves["theirs"] not in html
    assert "Move 3 transactions to version" in html
    assert set(version_of(moves["all"]).values()) == {moves["v1"]}
    assert not BulkJob.objects.exists() and not JournalEntry.objects.filter(kind="version_move").exists()


def test_confirming_starts_the_job_over_the_users_owners_and_shows_its_page(world, operator, moves):
    response = operator.post(move_url(), {"from_version": moves["v1"], "to_version": moves["v2"],
                                          "reason": "approve may time out now"})
    job = BulkJob.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/mondat/bulk/jobs/{job.pk}/"
    assert (job.action, job.filters, job.params, job.owners, job.actor) == (
        "move_version", {"transaction_type": "vm-console", "version": moves["v1"]}, {"to_version": moves["v2"]},
        [world.owner], "user:otto")
    assert (job.status, job.done, job.skipped) == ("done", 3, 1)
    assert flashed(response) == [f"Move to version {moves['v2'][:12]}: 3 moved, 1 skipped."]
    versions = version_of(moves["all"])
    assert {versions[tx_id] for tx_id in moves["waiting"]} == {moves["v2"]}
    assert versions[moves["napping"]] == versions[moves["ended"]] == versions[moves["theirs"]] == moves["v1"]
    entries = JournalEntry.objects.filter(kind="version_move")
    assert sorted(entry.tx_id for entry in entries) == sorted(moves["waiting"])
    assert {(entry.actor, entry.data["reason"]) for entry in entries} == {("user:otto", "approve may time out now")}
    page = operator.get(response["Location"]).content.decode()
    assert "Move transactions to another version" in page
    assert f"from version <code title=\"{moves['v1']}\">{moves['v1'][:12]}</code>" in page
    assert "at a step the target version lacks" in page
    tx_page = operator.get(f"/mondat/transactions/{moves['waiting'][0]}/").content.decode()
    assert f"Moved from version {moves['v1'][:12]} to {moves['v2'][:12]} while sleeping at step approve" in tx_page


def test_a_big_move_runs_as_a_background_job(world, operator, moves, small_jobs):
    response = operator.post(move_url(), {"from_version": moves["v1"], "to_version": moves["v2"]})
    job = BulkJob.objects.get()
    assert job.status == "pending" and "a background job will move the 4 transactions" in flashed(response)[0]
    page = operator.get(f"/mondat/bulk/jobs/{job.pk}/")
    assert page.context["running"] is True
    while bulk.bulk_apply_batch(job_id=job.pk):  # as the nodes run it
        pass
    job.refresh_from_db()
    assert (job.status, job.done, job.skipped) == ("done", 3, 1)


@pytest.mark.parametrize("versions", ["same", "unknown"])
def test_bad_versions_are_refused_with_the_engines_message_and_start_nothing(operator, moves, versions):
    to_version = moves["v1"] if versions == "same" else "0" * 64
    form = {"from_version": moves["v1"], "to_version": to_version}
    shown = operator.get(move_url(), form)
    assert shown.status_code == 400 and shown.context["move"] is None
    expected = "The versions are the same." if versions == "same" else "has no version"
    assert expected in shown.context["move_error"]
    response = operator.post(move_url(), {**form, "reason": "r"})
    assert response.status_code in (400, 404) and expected in response.content.decode()
    assert not BulkJob.objects.exists()
    assert set(version_of(moves["all"]).values()) == {moves["v1"]}


def test_viewers_may_not_move_and_an_unknown_pipeline_is_404(viewer, operator, moves):
    form = {"from_version": moves["v1"], "to_version": moves["v2"]}
    assert viewer.get(move_url(), form).status_code == 403
    assert viewer.post(move_url(), form).status_code == 403
    assert operator.get(move_url("nope"), form).status_code == 404
    assert not BulkJob.objects.exists()


def test_a_system_users_move_reaches_every_owner(world, moves):
    system = login(make_user("sys", "system"))
    response = system.post(move_url(), {"from_version": moves["v1"], "to_version": moves["v2"]})
    assert response.status_code == 302
    job = BulkJob.objects.get()
    assert job.owners is None and job.done == 4
    assert version_of([moves["theirs"]])[moves["theirs"]] == moves["v2"]


def test_the_list_offers_the_move_only_when_filtered_to_one_type_and_filters_by_version(operator, moves):
    assert "/mondat/bulk/move_version/" not in operator.get("/mondat/transactions/").content.decode()
    html = operator.get("/mondat/transactions/", {"transaction_type": "vm-console"}).content.decode()
    assert 'href="/mondat/bulk/move_version/?transaction_type=vm-console"' in html
    assert "Move to another version…" in html
    rows = operator.get("/mondat/transactions/", {"transaction_type": "vm-console", "version": moves["v2"]})
    assert rows.context["rows"] == []
    rows = operator.get("/mondat/transactions/", {"version": moves["v1"]})
    assert {row["tx"].pk for row in rows.context["rows"]} == {*moves["waiting"], moves["napping"], moves["ended"]}


def test_the_bulk_page_picks_the_versions_shows_the_dry_run_and_moves(world, operator, moves):
    page = operator.get("/mondat/bulk/move_version/", {"transaction_type": "vm-console"})
    assert page.status_code == 200 and page.context["move"] is None
    html = page.content.decode()
    assert 'name="version"' in html and 'name="to_version"' in html and 'value="vm-console"' in html
    assert "<button type=\"submit\" class=\"primary\">Move" not in html  # no confirm before the versions
    query = {"transaction_type": "vm-console", "version": moves["v1"], "to_version": moves["v2"]}
    page = operator.get("/mondat/bulk/move_version/", query)
    assert page.status_code == 200
    assert (page.context["move"]["moves"], page.context["preview"]["count"]) == (3, 4)
    html = page.content.decode()
    assert "Move 4 transactions" in html and f'name="to_version" value="{moves["v2"]}"' in html
    assert not BulkJob.objects.exists()
    response = operator.post("/mondat/bulk/move_version/?" + "&".join(f"{k}={v}" for k, v in query.items()),
                             {"to_version": moves["v2"], "reason": "from the list"})
    job = BulkJob.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/mondat/bulk/jobs/{job.pk}/"
    assert (job.action, job.params, job.done, job.skipped) == ("move_version", {"to_version": moves["v2"]}, 3, 1)
    assert flashed(response) == ["Move: 3 done, 1 skipped."]


def test_the_bulk_page_needs_one_type_and_refuses_bad_versions(operator, moves):
    page = operator.get("/mondat/bulk/move_version/")
    assert "Filter the list to one transaction type" in page.content.decode()
    query = "transaction_type=vm-console&version=" + moves["v1"]
    response = operator.post(f"/mondat/bulk/move_version/?{query}", {"to_version": "0" * 64, "reason": "r"})
    assert response.status_code == 400 and "has no version" in response.content.decode()
    response = operator.post(f"/mondat/bulk/move_version/?{query}", {"to_version": moves["v1"], "reason": "r"})
    assert response.status_code == 400 and "Another version than from_version." in response.content.decode()
    assert not BulkJob.objects.exists()


@pytest.fixture
def su(world):
    return login(make_user("root", superuser=True))


def test_the_admin_moves_each_selected_transaction_to_the_version_in_use(world, su, moves):
    v3_definition = copy.deepcopy(MOVE_V1)
    v3_definition["steps"][0]["config"] = {"values": {"v": 3}}
    [v3] = world.load(v3_definition)  # now in use: it has every step of v1
    selected = [*moves["waiting"], moves["napping"], moves["ended"]]
    response = su.post("/admin/engine/transaction/", {"action": "move_to_version_in_use",
                                                       "_selected_action": selected}, follow=True)
    html = response.content.decode()
    assert "4 transaction(s) moved to the version in use." in html and "1 refused" in html
    versions = version_of(selected)
    assert {versions[tx_id] for tx_id in [*moves["waiting"], moves["napping"]]} == {v3.pk}
    assert versions[moves["ended"]] == moves["v1"]
    entry = JournalEntry.objects.filter(kind="version_move", tx_id=moves["napping"]).get()
    assert (entry.actor, entry.data["reason"], entry.data["to_version"]) == ("user:root", "admin action", v3.pk)
    again = su.post("/admin/engine/transaction/", {"action": "move_to_version_in_use",
                                                    "_selected_action": [moves["waiting"][0]]}, follow=True)
    assert "It is already on the version in use." in again.content.decode()


def test_the_admin_pipeline_page_lists_its_versions(su, moves):
    html = su.get("/admin/engine/pipeline/vm-console/change/").content.decode()
    assert f"<code>{moves['v1'][:12]}</code></a>" in html and f"<code>{moves['v2'][:12]}</code></a>" in html
    assert "(in use)" in html and f'href="{move_url()}"' in html
    listing = su.get("/admin/engine/transaction/").content.decode()
    assert moves["v1"][:12] in listing
