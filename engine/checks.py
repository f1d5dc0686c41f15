"""System checks of the engine (ids datp.E0xx / datp.W0xx)."""
from django.core.checks import Tags, Warning, register
from django.db import DatabaseError

from engine.steps import registry


@register(Tags.database)
def missing_step_types(app_configs=None, databases=None, **kwargs):
    """datp.W001: a pipeline version in use names an unregistered step type.

    A database check: it runs with `manage.py check --database default` and before migrate.
    """
    from engine.models import Pipeline, PipelineVersion, Transaction

    if not databases:
        return []
    try:
        version_ids = set(Transaction.objects.active().values_list("version_id", flat=True).distinct())
        version_ids |= set(Pipeline.objects.values_list("current_version_id", flat=True))
        versions = list(PipelineVersion.objects.filter(pk__in=version_ids))
    except DatabaseError:
        return []  # no tables yet (before migrate): nothing can be in use
    problems = []
    for version in versions:
        for step in version.definition.get("steps", []):
            if registry.get(step.get("type")) is None:
                problems.append(
                    Warning(
                        f"Pipeline {version.pipeline_id} (version {version.pk[:12]}) uses step type "
                        f"{step.get('type')!r} in step {step.get('name')!r}, which is not registered.",
                        hint="Install the app that defines it, or publish a version without it.",
                        id="datp.W001",
                    )
                )
    return problems

