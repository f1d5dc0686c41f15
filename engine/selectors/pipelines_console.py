"""Reads behind MONDAT's Pipelines pages: pipelines with their last day of step runs, versions, definitions.

Step figures count only the step runs of transactions of the owners in scope (`owners` None: every owner).
The median duration is `percentile_cont` on PostgreSQL and, elsewhere, the median of a bounded sample
of the most recent runs, computed in Python.
"""
import statistics

from django.db import connection
from django.db.models import Aggregate, Count, DurationField, ExpressionWrapper, F, FloatField, Q

from engine.errors import NotFound
from engine.models import Pipeline, PipelineVersion, StepRun
from engine.states import StepRunStatus

# Step-run outcomes that count as a failure of the step (a cancel is the operator's doing, not the step's).
FAILED_RUNS = (StepRunStatus.FAILED, StepRunStatus.ABORTED, StepRunStatus.TIMEOUT, StepRunStatus.INTERNAL_ERROR,
               StepRunStatus.LOST)
# How many of the most recent ended runs the Python median reads (SQLite); PostgreSQL reads them all.
MEDIAN_SAMPLE = 10_000


class MedianSeconds(Aggregate):
    """PostgreSQL: the median of an interval expression, in seconds."""

    function = "percentile_cont"
    template = "percentile_cont(0.5) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM %(expressions)s))"
    output_field = FloatField()


def _runs(*, owners, since, pipeline=None):
    queryset = StepRun.objects.filter(started_at__gte=since)
    if pipeline is not None:
        queryset = queryset.filter(tx__pipeline_name=pipeline)
    if owners is not None:
        queryset = queryset.filter(tx__owner_id__in=owners)
    return queryset


def pipeline_console_list(*, owners, since):
    """List every pipeline, by name, with its version in use, step count and its runs and failures since `since`
    (two queries)."""
    totals = {
        row["tx__pipeline_name"]: row
        for row in _runs(owners=owners, since=since).values("tx__pipeline_name")
        .annotate(runs=Count("id"), failures=Count("id", filter=Q(status__in=FAILED_RUNS))).order_by()
    }
    rows = []
    queryset = Pipeline.objects.select_related("current_version").annotate(version_count=Count("versions"))
    for pipeline in queryset.order_by("name"):
        current = pipeline.current_version
        figures = totals.get(pipeline.name, {})
        rows.append({
            "name": pipeline.name, "description": pipeline.description, "node_group": pipeline.node_group_id,
            "transaction_type": pipeline.transaction_type, "version": pipeline.current_version_id,
            "version_count": pipeline.version_count, "step_count": len(current.steps) if current else 0,
            "runs": figures.get("runs", 0), "failures": figures.get("failures", 0),
        })
    return rows


def _medians_in_python(runs):
    durations = {}
    sample = runs.filter(ended_at__isnull=False).order_by("-id").values_list("step", "started_at", "ended_at")
    for step, started_at, ended_at in sample[:MEDIAN_SAMPLE]:
        durations.setdefault(step, []).append((ended_at - started_at).total_seconds() * 1000)
    return {step: statistics.median(values) for step, values in durations.items()}


def pipeline_step_stats(*, name, owners, since):
    """Return {step name: {"runs", "failures", "median_ms"}} over the step runs of `name` since `since`."""
    runs = _runs(owners=owners, since=since, pipeline=name)
    annotations = {"runs": Count("id"), "failures": Count("id", filter=Q(status__in=FAILED_RUNS))}
    postgres = connection.vendor == "postgresql"
    if postgres:
        elapsed = ExpressionWrapper(F("ended_at") - F("started_at"), output_field=DurationField())
        annotations["median_seconds"] = MedianSeconds(elapsed, filter=Q(ended_at__isnull=False))
    stats = {}
    for row in runs.values("step").annotate(**annotations).order_by():
        median = row.get("median_seconds")
        stats[row["step"]] = {"runs": row["runs"], "failures": row["failures"],
                              "median_ms": None if median is None else median * 1000}
    if not postgres and stats:
        for step, median_ms in _medians_in_python(runs).items():
            stats[step]["median_ms"] = median_ms
    return stats


def pipeline_console_detail(*, name, owners, since, version=None):
    """Return the pipeline `name`, its versions (newest first, without their definitions), the version to show
    (`version` if given, else the one in use) and its step figures since `since` over `owners`.
    Raise NotFound for an unknown pipeline or version."""
    pipeline = Pipeline.objects.select_related("current_version").filter(name=name).first()
    if pipeline is None:
        raise NotFound("No such pipeline.")
    versions = list(PipelineVersion.objects.filter(pipeline_id=name).only("version", "created_at")
                    .order_by("-created_at", "-version"))
    shown = pipeline.current_version
    if version is not None and version != pipeline.current_version_id:
        shown = pipeline_version_get(name=name, version=version)
    return {"pipeline": pipeline, "versions": versions, "shown": shown,
            "stats": pipeline_step_stats(name=name, owners=owners, since=since)}


def pipeline_version_get(*, name, version):
    """Return one version of the pipeline `name`, with its definition; NotFound if there is none."""
    found = PipelineVersion.objects.filter(pipeline_id=name, version=version).first()
    if found is None:
        raise NotFound("No such pipeline version.")
    return found


def pipeline_definition_in_use(*, name):
    """Return the definition of the version in use of `name`; NotFound if there is no such pipeline."""
    pipeline = Pipeline.objects.select_related("current_version").filter(name=name).first()
    if pipeline is None or pipeline.current_version is None:
        raise NotFound("No such pipeline.")
    return pipeline.current_version.definition
