"""Reads of the console's bulk jobs: one job, as the users whose owners it stays within may see it."""
from engine.errors import NotFound
from engine.models import BulkJob
from engine.selectors import iso


def bulk_job_get(*, job_id, owners):
    """Return the bulk job `job_id` if every owner it reaches is in `owners` (None: every owner); else NotFound."""
    job = BulkJob.objects.filter(pk=job_id).first()
    visible = owners is None or (job is not None and job.owners is not None and set(job.owners) <= set(owners))
    if job is None or not visible:
        raise NotFound("No such bulk job.")
    return job


def bulk_job_as_dict(job):
    """A bulk job as the API shows it (a version move's, GET /pipelines/{name}/moves/{id})."""
    return {"id": job.pk, "action": job.action, "status": job.status, "total": job.total, "done": job.done,
            "skipped": job.skipped, "created_at": iso(job.created_at), "started_at": iso(job.started_at),
            "finished_at": iso(job.finished_at), "error": job.error}
