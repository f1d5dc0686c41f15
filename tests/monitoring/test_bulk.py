"""Bulk actions on a filtered set: the bounded count, confirmation, each action with a journal entry per
transaction, roles and owners, and background jobs that run in batches and resume without doubling."""
import pytest

from engine.models import BulkJob, JournalEntry, Transaction
from engine.runtime.faults import WorkerCrash
from engine.services import bulk
from engine.states import BulkJobStatus

BULK = "/mondat/bulk/"


def statuses(tx_ids):
    return [Transaction.objects.get(pk=tx_id).status for tx_id in tx_ids]


def entries(kind, actor="user:otto"):
    return list(JournalEntry.objects.filter(kind=kind, actor=actor).order_by("id"))


@pytest.fixture
def failures(world):
    """Three failed transactions of the harness's owner, one of the other owner, and one success."""
    tx_ids = [world.start("failing") for _ in range(3)]
    world.start("failing", owner="other")
    world.start("echo")
    world.settle()
    return tx_ids


@pytest.fixture
def small_jobs(settings):
    """Sets above 3 become background jobs, run 2 transactions a batch."""
    settings.DATP = {**settings.DATP, "BULK_INLINE_MAX": 3, "BULK_BATCH": 2}


def test_the_preview_counts_what_the_action_applies_to_within_the_users_owners(operator, failures):
    response = operator.get(BULK + "retry/", {"status": "failed"})
    assert response.status_code == 200
    assert response.context["preview"] == {"count": 3, "more": False, "cap": bulk.COUNT_CAP}
    assert operator.get(BULK + "retry/").context["preview"]["count"] == 3
    assert operator.get(BULK + "wake/").context["preview"]["count"] == 0
    assert operator.get(BULK + "retry/", {"status": "success"}).context["preview"]["count"] == 0


def test_the_preview_count_is_bounded(operator, failures, monkeypatch):
    monkeypatch.setattr(bulk, "COUNT_CAP", 2)
    response = operator.get(BULK + "retry/")
    assert response.context["preview"] == {"count": 2, "more": True, "cap": 2}
    assert "more than 2" in response.content.decode()


def test_the_confirmation_shows_the_filters_and_a_form_that_posts_to_the_same_set(operator, failures):
    html = operator.get(BULK + "retry/", {"status": "failed", "transaction_type": "failing"}).content.decode()
    assert 'action="/mondat/bulk/retry/?status=failed&amp;transaction_type=failing"' in html
    assert 'name="reason"' in html and "Retry 3 transactions" in html


def test_a_viewer_sees_the_count_without_a_form_and_a_forged_post_is_403(viewer, failures):
    response = viewer.get(BULK + "retry/")
    assert response.context["preview"]["count"] == 3
    assert 'class="card bulk-form"' not in response.content.decode()
    assert viewer.post(BULK + "retry/", {"reason": "forged"}).status_code == 403
    assert statuses(failures) == ["failed"] * 3 and not BulkJob.objects.exists()


def test_an_unknown_action_is_404(operator, failures):
    assert operator.get(BULK + "explode/").status_code == 404
    assert operator.post(BULK + "explode/").status_code == 404


def test_retry_requeues_each_transaction_with_its_own_journal_entry(operator, failures, world):
    response = operator.post(BULK + "retry/?status=failed", {"reason": "fixed the bug"})
    job = BulkJob.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/mondat/bulk/jobs/{job.pk}/"
    assert (job.status, job.done, job.skipped, job.actor) == (BulkJobStatus.DONE, 3, 0, "user:otto")
    assert statuses(failures) == ["queued"] * 3
    retried = entries("retry")
    assert sorted(entry.tx_id for entry in retried) == sorted(failures)
    assert {entry.data["reason"] for entry in retried} == {"fixed the bug"}
    assert Transaction.objects.filter(owner="other", status="failed").count() == 1


def test_wake_queues_the_sleepers_the_filter_matches(operator, world):
    napping = [world.start("nap") for _ in range(2)]
    waiting = world.start("approval")
    world.settle()
    operator.post(BULK + "wake/?waiting_reason=timer", {"reason": "hurry"})
    assert statuses(napping) == ["queued", "queued"] and statuses([waiting]) == ["sleeping"]
    assert sorted(entry.tx_id for entry in entries("woken")) == sorted(napping)


def test_cancel_needs_a_reason(operator, world):
    tx_ids = [world.start("approval") for _ in range(2)]
    world.settle()
    response = operator.post(BULK + "cancel/?transaction_type=approval", {"reason": "  "})
    assert response.status_code == 400 and "A reason is required" in response.content.decode()
    assert statuses(tx_ids) == ["sleeping"] * 2
    operator.post(BULK + "cancel/?transaction_type=approval", {"reason": "customer left"})
    assert statuses(tx_ids) == ["cancelled"] * 2
    assert [entry.data["reason"] for entry in entries("status")] == ["customer left"] * 2


def test_set_switch_wakes_the_waiters_and_clear_switch_clears_it(operator, world):
    tx_ids = [world.start("approval") for _ in range(2)]
    world.settle()
    operator.post(BULK + "set_switch/?switch=approved", {"name": "approved", "value": "true", "reason": "ok"})
    assert statuses(tx_ids) == ["queued"] * 2
    assert [world.result(tx_id).switches for tx_id in tx_ids] == [{"approved": True}] * 2
    assert {entry.data["channel"] for entry in entries("switch")} == {"console"}
    operator.post(BULK + "clear_switch/?transaction_type=approval", {"name": "approved"})
    assert [world.result(tx_id).switches for tx_id in tx_ids] == [{"approved": None}] * 2


def test_switch_parameters_are_checked_before_anything_is_done(operator, world):
    tx_id = world.start("approval")
    world.settle()
    response = operator.post(BULK + "set_switch/", {"name": "bad name!", "value": "1"})
    assert response.status_code == 400 and "name" in response.context["errors"]
    assert operator.post(BULK + "set_switch/", {"name": "approved", "value": ""}).status_code == 400
    assert statuses([tx_id]) == ["sleeping"] and not BulkJob.objects.exists()


def test_invalid_filters_do_nothing(operator, failures):
    response = operator.post(BULK + "retry/?status=nonsense", {"reason": "x"})
    assert response.status_code == 400 and statuses(failures) == ["failed"] * 3


def test_another_owners_operator_reaches_none_of_them(other_operator, failures):
    other_operator.post(BULK + "retry/?owner=test", {"reason": "not mine"})
    assert statuses(failures) == ["failed"] * 3
    assert BulkJob.objects.get().done == 0


def test_a_big_set_becomes_a_job_the_nodes_run_in_batches_showing_progress(operator, world, small_jobs):
    tx_ids = [world.start("failing") for _ in range(5)]
    world.settle()
    operator.post(BULK + "retry/", {"reason": "batch"})
    job = BulkJob.objects.get()
    assert (job.status, job.total, job.done) == (BulkJobStatus.PENDING, 5, 0) and statuses(tx_ids) == ["failed"] * 5
    page = operator.get(f"{BULK}jobs/{job.pk}/")
    assert page.context["percent"] == 0 and 'hx-trigger="every 2s"' in page.content.decode()
    assert bulk.bulk_jobs_run(budget_seconds=0) == 1
    job.refresh_from_db()
    assert (job.status, job.done) == (BulkJobStatus.RUNNING, 2)
    progress = operator.get(f"{BULK}jobs/{job.pk}/", HTTP_HX_REQUEST="true")
    assert progress.context["percent"] == 40
    assert progress.content.decode().lstrip().startswith('<div class="card" id="bulk-progress"')
    assert bulk.bulk_jobs_run(budget_seconds=60) == 2
    job.refresh_from_db()
    assert (job.status, job.done, job.skipped) == (BulkJobStatus.DONE, 5, 0)
    assert statuses(tx_ids) == ["queued"] * 5 and len(entries("retry")) == 5
    assert "every 2s" not in operator.get(f"{BULK}jobs/{job.pk}/").content.decode()


def test_a_job_resumes_after_a_crash_without_doing_any_transaction_twice(operator, world, small_jobs, monkeypatch):
    tx_ids = [world.start("failing") for _ in range(5)]
    world.settle()
    operator.post(BULK + "retry/", {"reason": "batch"})
    bulk.bulk_jobs_run(budget_seconds=0)
    real_retry, calls = bulk.transactions.transaction_retry, []

    def crash_on_the_second(**kwargs):
        calls.append(kwargs["tx_id"])
        if len(calls) == 2:
            raise WorkerCrash()
        return real_retry(**kwargs)

    monkeypatch.setattr(bulk.transactions, "transaction_retry", crash_on_the_second)
    with pytest.raises(WorkerCrash):
        bulk.bulk_jobs_run(budget_seconds=60)
    job = BulkJob.objects.get()
    assert job.done == 2 and len(entries("retry")) == 2
    monkeypatch.setattr(bulk.transactions, "transaction_retry", real_retry)
    bulk.bulk_jobs_run(budget_seconds=60)
    job.refresh_from_db()
    assert (job.status, job.done, job.skipped) == (BulkJobStatus.DONE, 5, 0)
    assert sorted(entry.tx_id for entry in entries("retry")) == sorted(tx_ids)


def test_transactions_that_stopped_matching_count_as_skipped(operator, world, small_jobs):
    tx_ids = [world.start("failing") for _ in range(5)]
    world.settle()
    operator.post(BULK + "retry/", {"reason": "batch"})
    world.retry(tx_ids[0])
    world.retry(tx_ids[-1])
    bulk.bulk_jobs_run(budget_seconds=60)
    job = BulkJob.objects.get()
    assert (job.status, job.done, job.skipped, job.total) == (BulkJobStatus.DONE, 3, 2, 5)
    assert len(entries("retry")) == 3


def test_a_transaction_changed_inside_a_batch_is_skipped_not_failed(operator, world, small_jobs, monkeypatch):
    tx_ids = [world.start("failing") for _ in range(4)]
    world.settle()
    operator.post(BULK + "retry/", {"reason": "batch"})
    real_retry = bulk.transactions.transaction_retry

    def someone_was_faster(**kwargs):
        real_retry(tx_id=kwargs["tx_id"], actor="app:test")
        return real_retry(**kwargs)

    monkeypatch.setattr(bulk.transactions, "transaction_retry", someone_was_faster)
    bulk.bulk_jobs_run(budget_seconds=0)
    job = BulkJob.objects.get()
    assert (job.status, job.done, job.skipped) == (BulkJobStatus.RUNNING, 0, 2)
    assert statuses(tx_ids).count("queued") == 2


def test_a_job_page_is_404_to_a_user_of_another_owner(operator, other_operator, failures):
    operator.post(BULK + "retry/", {"reason": "x"})
    job = BulkJob.objects.get()
    assert operator.get(f"{BULK}jobs/{job.pk}/").status_code == 200
    assert other_operator.get(f"{BULK}jobs/{job.pk}/").status_code == 404
    assert operator.get(f"{BULK}jobs/{job.pk + 1}/").status_code == 404


def test_a_job_records_the_scope_owners_and_a_system_users_job_reaches_every_owner(system_user, failures):
    system_user.post(BULK + "retry/", {"reason": "all of them"})
    job = BulkJob.objects.get()
    assert job.owners is None and job.done == 4
    assert Transaction.objects.filter(status="failed").count() == 0


def test_the_preview_and_the_job_page_read_a_fixed_number_of_queries(operator, world, django_assert_max_num_queries):
    for _ in range(20):
        world.start("failing")
    world.settle()
    with django_assert_max_num_queries(6):
        assert operator.get(BULK + "retry/").context["preview"]["count"] == 20
    operator.post(BULK + "retry/", {"reason": "x"})
    with django_assert_max_num_queries(6):
        assert operator.get(f"{BULK}jobs/{BulkJob.objects.get().pk}/").context["job"].done == 20
