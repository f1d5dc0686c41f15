"""Reads of the console's bulk jobs: one job as its requester's peers may see it, and the recent ones."""
from engine.errors import NotFound
from engine.models import BulkJob


def _visible(job, owners):
    return owners is None or (job.owners is not None and set(job.owners) <= set(owners))


def bulk_job_get(*, job_id, owners):
    """The bulk job `job_id` if every owner it reaches is in `owners` (None: every owner); else NotFound."""
    job = BulkJob.objects.filter(pk=job_id).first()
    if job is None or not _visible(job, owners):
        raise NotFound("No such bulk job.")
    return job


def bulk_jobs_recent(*, owners, limit=10):
    """The newest bulk jobs whose owners are all in `owners` (None: every owner), newest first."""
    rows = BulkJob.objects.order_by("-created_at", "-id")
    if owners is not None:
        rows = rows.exclude(owners__isnull=True)
    found = []
    for job in rows[:limit * 5].iterator():
        if _visible(job, owners):
            found.append(job)
            if len(found) == limit:
                break
    return found
