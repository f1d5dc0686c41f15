"""POST /api/v1/pipelines/{name}/versions/{version}/move and GET /api/v1/pipelines/{name}/moves/{job_id} (issue
22): system credentials see the dry run (the default), start the move (202, a bulk job at Location) and follow
it; a normal key is refused, bad input is the typed error body, and a refused request moves nothing."""
import pytest

from engine.models import BulkJob, JournalEntry, Transaction
from engine.services import bulk
from tests.api.conftest import client_for, start
from tests.version_pipelines import move_versions

V1, V2 = move_versions("vm-api")


def move_url(version, name="vm-api"):
    return f"/api/v1/pipelines/{name}/versions/{version}/move"


def move(client, version, name="vm-api", **body):
    return client.post(move_url(version, name), body, format="json")


def refused(response, status, code):
    assert response.status_code == status, response.json()
    body = response.json()
    assert body["code"] == code and set(body) == {"code", "message", "extra"}, body
    return body


def versions():
    return dict(Transaction.objects.values_list("pk", "version_id"))


@pytest.fixture
def system_api(api, harness):
    return client_for(harness.owner, "ops", system=True)


@pytest.fixture
def world(api, other_api, harness):
    """On v1: four transactions (of two owners) asleep in `approve`, one asleep in `nap` (not in v2), one
    queued, one finished; then v2 published and in use. Returns (v1, v2, {what: tx_id or [tx_id]})."""
    [v1] = harness.load(V1)
    finished = start(api, "vm-api", data={"n": 10})
    harness.run(finished)
    harness.set_switch(finished, "approved", True)
    assert harness.run(finished).status == "success"
    napping = start(api, "vm-api", data={"n": 9})
    harness.settle()
    harness.set_switch(napping, "approved", True)
    harness.settle()
    approving = [start(api, "vm-api", data={"n": n}) for n in range(3)]
    approving.append(start(other_api, "vm-api", data={"n": 3}))
    harness.settle()
    queued = start(api, "vm-api", data={"n": 11})
    [v2] = harness.load(V2)
    assert harness.result(napping).sleeper.reason == "timer"
    assert {harness.result(tx).sleeper.reason for tx in approving} == {"switch"}
    return v1.pk, v2.pk, {"approving": approving, "napping": napping, "finished": finished, "queued": queued}


def test_the_dry_run_is_the_default_and_says_what_would_move(system_api, world):
    v1, v2, txs = world
    before = versions()
    response = move(system_api, v1)  # to the version in use, v2
    assert response.status_code == 200, response.json()
    preview = response.json()
    assert (preview["pipeline"], preview["from_version"], preview["to_version"]) == ("vm-api", v1, v2)
    assert (preview["count"], preview["more"], preview["moves"], preview["stays"]) == (6, False, 5, 1)
    steps = {entry["step"]: entry for entry in preview["steps"]}
    assert steps["approve"] == {"step": "approve", "sleeping": 4, "queued": 0, "moves": True,
                                "resumes_at": "approve", "why": None,
                                "changes": ["config", "on success: nap -> ship", "on timeout: - -> ship"]}
    assert steps["nap"]["moves"] is False and "not in the target version" in steps["nap"]["why"]
    assert steps["prepare"]["queued"] == 1 and steps["prepare"]["changes"] == ["config"]
    rows = {row["tx_id"]: row for row in preview["transactions"]}
    assert set(rows) == {*txs["approving"], txs["napping"], txs["queued"]}  # every owner's
    assert rows[txs["approving"][3]]["owner"] == "other"
    assert rows[txs["napping"]]["waiting"] == "timer" and rows[txs["napping"]]["resumes_at"] is None
    assert rows[txs["queued"]]["status"] == "queued" and rows[txs["queued"]]["waiting"] is None
    assert versions() == before
    assert not BulkJob.objects.exists() and not JournalEntry.objects.filter(kind="version_move").exists()
    explicit = move(system_api, v1, to_version=v2, dry_run=True, limit=2).json()
    assert len(explicit["transactions"]) == 2 and explicit["count"] == 6
    assert move(system_api, v1, limit=0).json()["transactions"] == []


def test_the_move_answers_202_with_the_job_and_its_location(system_api, harness, world):
    v1, v2, txs = world
    response = move(system_api, v1, dry_run=False, reason="approve may time out now")
    assert response.status_code == 202, response.json()
    job = response.json()
    assert set(job) == {"id", "action", "status", "total", "done", "skipped", "created_at", "started_at",
                        "finished_at", "error"}
    assert (job["action"], job["status"], job["total"], job["done"], job["skipped"], job["error"]) == (
        "move_version", "done", 6, 5, 1, "")
    assert job["created_at"].endswith("Z") and job["finished_at"].endswith("Z")
    assert response["Location"] == f"/api/v1/pipelines/vm-api/moves/{job['id']}"
    again = system_api.get(response["Location"])
    assert again.status_code == 200 and again.json() == job
    moved = versions()
    assert {moved[tx] for tx in [*txs["approving"], txs["queued"]]} == {v2}
    assert (moved[txs["napping"]], moved[txs["finished"]]) == (v1, v1)
    entry = JournalEntry.objects.filter(kind="version_move").first()
    assert entry.actor == "api-key:ops" and entry.data["reason"] == "approve may time out now"
    harness.set_switch(txs["approving"][0], "approved", True)
    assert harness.run(txs["approving"][0]).data == {"n": 0, "v": 1, "shipped": 2}  # v2's ship, no nap


def test_a_large_move_is_left_to_the_nodes_and_followed_by_its_job(system_api, settings, world):
    v1, v2, _ = world
    settings.DATP = {**settings.DATP, "BULK_INLINE_MAX": 1}
    response = move(system_api, v1, to_version=v2, dry_run=False)
    assert response.status_code == 202
    job = response.json()
    assert (job["status"], job["total"], job["done"], job["started_at"]) == ("pending", 6, 0, None)
    bulk.bulk_jobs_run(budget_seconds=5)
    done = system_api.get(response["Location"]).json()
    assert (done["id"], done["status"], done["done"], done["skipped"]) == (job["id"], "done", 5, 1)


def test_a_normal_key_may_neither_preview_nor_move_nor_read_a_move(api, system_api, world):
    v1, v2, _ = world
    before = versions()
    for body in ({}, {"dry_run": False, "to_version": v2}):
        refused(move(api, v1, **body), 403, "permission_denied")
    job = move(system_api, v1, dry_run=True)
    assert job.status_code == 200
    assert not BulkJob.objects.exists() and versions() == before
    started = move(system_api, v1, dry_run=False).json()
    refused(api.get(f"/api/v1/pipelines/vm-api/moves/{started['id']}"), 403, "permission_denied")


def test_bad_fields_are_a_400_and_move_nothing(system_api, world):
    v1, v2, _ = world
    before = versions()
    body = refused(move(system_api, v1, dry_run="no", limit=501, reason=3, too="far"), 400, "invalid_request")
    assert set(body["extra"]["fields"]) == {"dry_run", "limit", "reason", "too"}
    assert body["extra"]["fields"]["too"] == ["Unknown field."]
    for limit in (-1, 1.5, True, "10"):
        refused(move(system_api, v1, limit=limit), 400, "invalid_request")
    body = refused(move(system_api, v2, dry_run=False), 400, "invalid_request")  # v2 to itself (in use)
    assert set(body["extra"]["fields"]) == {"to_version"}
    refused(move(system_api, v1, to_version=1), 400, "invalid_request")
    refused(move(system_api, v1, dry_run=False, reason="x" * 2001), 400, "invalid_request")
    refused(system_api.post(move_url(v1), [1], format="json"), 400, "invalid_request")
    assert versions() == before and not BulkJob.objects.exists()


def test_an_unknown_pipeline_version_or_move_is_a_404(system_api, api, world):
    v1, v2, _ = world
    before = versions()
    refused(move(system_api, v1, name="nope"), 404, "not_found")
    refused(move(system_api, v1, name="nope", to_version=v2, dry_run=False), 404, "not_found")
    body = refused(move(system_api, "f" * 64, dry_run=False), 404, "not_found")
    assert body["extra"] == {"field": "from_version"}
    body = refused(move(system_api, v1, to_version="f" * 64, dry_run=False), 404, "not_found")
    assert body["extra"] == {"field": "to_version"}
    refused(move(system_api, v1, name="echo"), 404, "not_found")  # v1 is no version of echo
    assert versions() == before and not BulkJob.objects.exists()
    job = move(system_api, v1, dry_run=False).json()
    for path in (f"nope/moves/{job['id']}", f"echo/moves/{job['id']}", "vm-api/moves/999999",
                 "vm-api/moves/abc", f"vm-api/moves/{2**64}", "vm-api/moves/-1"):
        refused(system_api.get(f"/api/v1/pipelines/{path}"), 404, "not_found")


def test_another_bulk_job_is_no_move(system_api, harness, world):
    """GET .../moves/{job_id} shows only the pipeline's version moves, not the console's other bulk jobs."""
    job = bulk.bulk_job_create(action="wake", owners=[harness.owner], filters={"transaction_type": "vm-api"},
                               actor="test")
    refused(system_api.get(f"/api/v1/pipelines/vm-api/moves/{job.pk}"), 404, "not_found")
