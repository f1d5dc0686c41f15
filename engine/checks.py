"""System checks of the engine (ids datp.E0xx / datp.W0xx)."""
from django.core.checks import Error, Tags, Warning, register, run_checks
from django.core.management.base import SystemCheckError
from django.db import DatabaseError

from engine import clock, conf, durations
from engine.models import Pipeline, PipelineVersion, Transaction
from engine.services.pipelines_routes import route_key_problem
from engine.steps import hints, registry

SETTINGS_TAG = "datp_settings"


def _time_setting_problem(name, value):
    """Why the DATP setting `name` holds no time the engine can use, or None."""
    try:
        if name in conf.SECONDS_SETTINGS:
            durations.seconds_value(value)
            if name in conf.POSITIVE_SETTINGS and value <= 0:
                return "Must be more than 0 seconds."
        elif name == "RETENTION":
            if value != "":
                durations.before(clock.now(), value)
        else:
            durations.wait_seconds(value, clock.now())
    except durations.BadDuration as exc:
        return str(exc)
    return None


@register(SETTINGS_TAG)
def time_settings(app_configs=None, **kwargs):
    """datp.E001: a DATP setting that is a time holds garbage, a negative time, or more than a datetime
    (or a wait) can hold. Named both as the DATP key and as its environment variable."""
    problems = []
    for name in (*conf.SECONDS_SETTINGS, *conf.DURATION_SETTINGS):
        value = conf.get(name)
        problem = _time_setting_problem(name, value)
        if problem:
            problems.append(Error(
                f"DATP_{name} (DATP[{name!r}]) = {value!r}: {problem}",
                hint="Seconds as a number" if name in conf.SECONDS_SETTINGS else "An ISO 8601 duration such as PT30S",
                id="datp.E001",
            ))
    return problems


@register(SETTINGS_TAG)
def count_settings(app_configs=None, **kwargs):
    """datp.E002: a DATP setting that is a count holds something other than a whole number of at least 1."""
    problems = []
    for name in conf.COUNT_SETTINGS:
        value = conf.get(name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            problems.append(Error(f"DATP_{name} (DATP[{name!r}]) = {value!r}: Not a whole number of at least 1.",
                                  hint="A whole number such as 1000", id="datp.E002"))
    return problems


@register(Tags.database)
def missing_step_types(app_configs=None, databases=None, **kwargs):
    """datp.W001: a pipeline version in use names an unregistered step type; datp.W002: it routes an outcome
    its step type no longer declares.

    A database check: it runs with `manage.py check --database default` and before migrate.
    """
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
            step_type = registry.get(step.get("type"))
            if step_type is not None:
                problems.extend(_stale_routes(version, step, step_type))
            else:
                problems.append(
                    Warning(
                        f"Pipeline {version.pipeline_id} (version {version.pk[:12]}) uses step type "
                        f"{step.get('type')!r} in step {step.get('name')!r}, which is not registered.",
                        hint=hints.unknown_hint(step.get("type"))
                        or "Install the app that defines it, or publish a version without it.",
                        id="datp.W001",
                    )
                )
    return problems



def _stale_routes(version, step, step_type):
    """datp.W002 for each route of `step` (of a version in use) on an outcome its registered type no longer
    declares: the step can no longer end so, and what it ends with instead may have no route."""
    declared = step_type.outcomes_for(step.get("config") or {})
    return [
        Warning(
            f"Pipeline {version.pipeline_id} (version {version.pk[:12]}) routes {key!r} in step {step.get('name')!r}: "
            f"{problem}.",
            hint="Declare the outcome in the step type again, or publish a version without the route.",
            id="datp.W002",
        )
        for key in step.get("on") or {}
        if (problem := route_key_problem(step_type, declared, key))
    ]


def refuse_bad_settings():
    """Stop a server started without manage.py (gunicorn's WSGI entry) on datp.E001, as commands stop."""
    errors = [error for error in run_checks(tags=[SETTINGS_TAG]) if error.is_serious()]
    if errors:
        raise SystemCheckError("\n".join(str(error) for error in errors))
