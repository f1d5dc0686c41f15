"""Reads of the console's bulk jobs: one job, as the users whose owners it stays within may see it."""
from engine.errors import NotFound
from engine.models import BulkJob


def bulk_job_get(*, job_id, owners):
    """Return the bulk job `job_id` if every owner it reaches is in `owners` (None: every owner); else NotFound."""
    job = BulkJob.objects.filter(pk=job_id).first()
    visible = owners is None or (job is not None and job.owners is not None and set(job.owners) <= set(owners))
    if job is None or not visible:
        raise NotFound("No such bulk job.")
    return job
