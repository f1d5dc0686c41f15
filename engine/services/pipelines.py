"""Pipelines: validate a definition (every problem at once, with its path), publish it as a version,
roll back to an earlier version, and ensure node groups exist."""
import hashlib
import json
import re

import jsonschema
from django.db import transaction

from engine import clock, conf, durations
from engine.errors import InvalidPipeline, NotFound
from engine.limits import PIPELINE_NAME_PATTERN, STEP_NAME_PATTERN
from engine.models import NodeGroup, Pipeline, PipelineVersion
from engine.services.pipelines_children import check_children
from engine.services.pipelines_routes import check_routes
from engine.steps import hints, pointers, references, registry

NAME_RE = re.compile(PIPELINE_NAME_PATTERN)
STEP_NAME_RE = re.compile(STEP_NAME_PATTERN)
TOP_FIELDS = {"name", "description", "node_group", "transaction_type", "deadline", "steps"}
STEP_FIELDS = {"name", "type", "config", "on", "retry"}
RETRY_FIELDS = {"max_attempts", "backoff", "max_backoff", "non_retryable"}
CLASS_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")

_format_checker = jsonschema.FormatChecker()


def _problem(exc):
    """Format a BadDuration's message in the style of pipeline errors ("steps[2].config.seconds: too long: ...")."""
    text = str(exc).rstrip(".")
    return text[:1].lower() + text[1:]


def _duration_problem(value):
    """Return why `value` is no duration a pipeline may hold (measured from now), or None."""
    try:
        durations.add(clock.now(), value if isinstance(value, str) else None)
    except durations.BadDuration as exc:
        return _problem(exc)
    return None


def _timestamp_problem(value):
    try:
        durations.parse_timestamp(value)
    except durations.BadDuration as exc:
        return _problem(exc)
    return None


# Formats checked by the one parser of durations and times; their messages replace jsonschema's.
FORMAT_PROBLEMS = {"duration": _duration_problem, "date-time": _timestamp_problem,
                   "json-pointer": pointers.pointer_problem}


@_format_checker.checks("duration", raises=())
def _is_duration(value):
    return not isinstance(value, str) or _duration_problem(value) is None


@_format_checker.checks("json-pointer", raises=())
def _is_pointer(value):
    return not isinstance(value, str) or pointers.pointer_problem(value) is None


@_format_checker.checks("date-time", raises=())
def _is_timestamp(value):
    return not isinstance(value, str) or _timestamp_problem(value) is None


def _path(parts):
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _schema_errors(schema, config, prefix):
    validator = jsonschema.Draft202012Validator(schema, format_checker=_format_checker)
    errors = []
    for error in sorted(validator.iter_errors(config), key=lambda e: list(map(str, e.absolute_path))):
        where = _path([*prefix, *error.absolute_path])
        problem = FORMAT_PROBLEMS.get(error.validator_value) if error.validator == "format" else None
        message = problem(error.instance) if problem else error.message
        errors.append(f"{where}: {message}")
    return errors


def _check_duration(value, where, errors):
    problem = _duration_problem(value)
    if problem:
        errors.append(f"{where}: {problem}")


def _check_steps(steps, errors, children, outcomes):
    """Check each step; add `(path, pipeline name)` of each child pipeline a valid step names to `children`,
    and to `outcomes` {index: the outcomes it declares} for each step of a known type with a valid config."""
    names = []
    for index, step in enumerate(steps):
        where = f"steps[{index}]"
        if not isinstance(step, dict):
            errors.append(f"{where}: must be an object")
            names.append(None)
            continue
        for extra in sorted(set(step) - STEP_FIELDS):
            errors.append(f"{where}.{extra}: unknown field")
        name = step.get("name", f"step-{index + 1}")
        if not isinstance(name, str) or not STEP_NAME_RE.match(name):
            errors.append(f"{where}.name: 1 to 100 letters, digits or _.:- starting with a letter or digit")
        elif name == "end":
            errors.append(f"{where}.name: 'end' is reserved for routes")
        elif name in names:
            errors.append(f"{where}.name: duplicate step name {name!r}")
        names.append(name)
        step_type = registry.get(step.get("type")) if isinstance(step.get("type"), str) else None
        if step_type is None:
            errors.append(f"{where}.type: {hints.unknown_message(step.get('type'))}")
        config = step.get("config", {})
        if not isinstance(config, dict):
            errors.append(f"{where}.config: must be an object")
        elif step_type is not None:
            schema = references.widen(step_type.config_schema, fixed=step_type.fixed_settings)
            problems = _schema_errors(schema, config, [where, "config"])
            problems = problems or [f"{where}.config.{problem}" for problem in step_type.config_problems(config)]
            errors.extend(problems)
            if not problems:
                children.extend((_path([where, "config", *path]), name)  # a name from data is checked when run
                                for path, name in step_type.pipelines_named(config) if isinstance(name, str))
                outcomes[index] = step_type.outcomes_for(config)
        if step.get("retry") is not None:
            _check_retry(step["retry"], f"{where}.retry", errors)
    return names


def _check_retry(retry, where, errors):
    if not isinstance(retry, dict):
        errors.append(f"{where}: must be an object")
        return
    for extra in sorted(set(retry) - RETRY_FIELDS):
        errors.append(f"{where}.{extra}: unknown field")
    attempts = retry.get("max_attempts", 3)
    if isinstance(attempts, bool) or not isinstance(attempts, int) or not 1 <= attempts <= 100:
        errors.append(f"{where}.max_attempts: a whole number from 1 to 100")
    for key in ("backoff", "max_backoff"):
        if key in retry:
            _check_duration(retry[key], f"{where}.{key}", errors)
    classes = retry.get("non_retryable", [])
    if not isinstance(classes, list):
        errors.append(f"{where}.non_retryable: must be a list of exception class names")
        return
    for index, entry in enumerate(classes):
        if not isinstance(entry, str) or not CLASS_NAME_RE.fullmatch(entry):
            errors.append(f"{where}.non_retryable[{index}]: an exception class name or dotted path "
                          "(e.g. ValueError, shop.errors.OutOfStock)")


def pipeline_validate(*, definition, together=()):
    """Return the normalised definition, or raise InvalidPipeline with every problem and its path.

    A child pipeline a step names must exist: be stored, be this one, or be among the names `together`
    (the pipelines loaded with it).
    """
    errors = []
    if not isinstance(definition, dict):
        raise InvalidPipeline(["(root): a pipeline definition must be a JSON object"])
    for extra in sorted(set(definition) - TOP_FIELDS):
        errors.append(f"{extra}: unknown field")
    name = definition.get("name")
    if not isinstance(name, str) or not NAME_RE.match(name):
        errors.append("name: required; lower-case letters, digits and _.- (at most 100), starting with a letter or digit")
    if "description" in definition and not isinstance(definition["description"], str):
        errors.append("description: must be text")
    group = definition.get("node_group", conf.get("DEFAULT_NODE_GROUP"))
    if not isinstance(group, str) or not NAME_RE.match(group):
        errors.append("node_group: lower-case letters, digits and _.- (at most 100)")
    if not isinstance(definition.get("transaction_type", True), bool):
        errors.append("transaction_type: must be true or false")
    if definition.get("deadline") is not None:
        _check_duration(definition["deadline"], "deadline", errors)
    steps = definition.get("steps")
    if not isinstance(steps, list) or not steps:
        errors.append("steps: required, a list of at least one step")
        steps = []
    children, outcomes = [], {}
    names = _check_steps(steps, errors, children, outcomes)
    check_routes(steps, names, errors, outcomes)
    check_children(children, known={*together, *([name] if isinstance(name, str) else [])}, errors=errors)
    if errors:
        raise InvalidPipeline(errors)
    return {
        "name": name,
        "description": definition.get("description", ""),
        "node_group": group,
        "transaction_type": definition.get("transaction_type", True),
        "deadline": definition.get("deadline"),
        "steps": [_normal_step(step, names[index]) for index, step in enumerate(steps)],
    }


def _normal_step(step, name):
    normal = {"name": name, "type": registry.canonical_name(step["type"]), "config": step.get("config", {})}
    for key in ("on", "retry"):
        if key in step:
            normal[key] = step[key]
    return normal


def version_id(definition):
    canonical = json.dumps(definition, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def node_group_ensure(*, name, now=None):
    group, _ = NodeGroup.objects.get_or_create(pk=name, defaults={"created_at": now or clock.now()})
    return group


def pipeline_publish(*, definition, create_node_group=True, together=()):
    """Validate and store `definition` as the version in use. Return (version, created).

    `together`: the names of pipelines published in the same transaction, which its steps may name.
    """
    normal = pipeline_validate(definition=definition, together=together)
    now = clock.now()
    with transaction.atomic():
        if create_node_group:
            node_group_ensure(name=normal["node_group"], now=now)
        elif not NodeGroup.objects.filter(pk=normal["node_group"]).exists():
            raise InvalidPipeline([f"node_group: no node group named {normal['node_group']!r}"])
        pipeline, _ = Pipeline.objects.select_for_update().get_or_create(
            name=normal["name"],
            defaults={"node_group_id": normal["node_group"], "created_at": now, "updated_at": now},
        )
        vid = version_id(normal)
        version, created = PipelineVersion.objects.get_or_create(
            version=vid, defaults={"pipeline": pipeline, "definition": normal, "created_at": now}
        )
        if pipeline.current_version_id != vid:
            _use(pipeline, version, now)
    return version, created


def _use(pipeline, version, now):
    definition = version.definition
    pipeline.current_version = version
    pipeline.description = definition.get("description", "")
    pipeline.node_group_id = definition["node_group"]
    pipeline.transaction_type = definition.get("transaction_type", True)
    pipeline.updated_at = now
    pipeline.save()


def pipeline_use_version(*, name, version):
    """Make an earlier version the one in use (a rollback); running transactions keep their own."""
    now = clock.now()
    with transaction.atomic():
        pipeline = Pipeline.objects.select_for_update().filter(name=name).first()
        found = PipelineVersion.objects.filter(pipeline_id=name, version=version).first()
        if pipeline is None or found is None:
            raise NotFound("No such pipeline version.")
        node_group_ensure(name=found.definition["node_group"], now=now)
        _use(pipeline, found, now)
    return found


def pipelines_publish_all(*, definitions):
    """Validate every `(label, definition)` first; store them all only if none has a problem. They may
    name each other as child pipelines, in any order. A problem starts with its label; with label None,
    with the pipeline's name when there are several, else nothing."""
    together = {d.get("name") for _, d in definitions if isinstance(d, dict) and isinstance(d.get("name"), str)}
    errors = []
    for label, definition in definitions:
        if label is None and len(definitions) > 1:
            label = definition.get("name") if isinstance(definition, dict) else None
        try:
            pipeline_validate(definition=definition, together=together)
        except InvalidPipeline as exc:
            errors.extend(f"{label}: {error}" if label else error for error in exc.errors)
    if errors:
        raise InvalidPipeline(errors)
    with transaction.atomic():
        return [pipeline_publish(definition=definition, together=together) for _, definition in definitions]


UNCHANGED = object()


def node_group_update(*, name, paused=UNCHANGED, max_concurrency=UNCHANGED):
    """Pause or resume a node group, or change its limit (None: no limit). Pausing takes effect at the
    next checkpoint; on resume the nodes' sweep queues its waiting transactions again, in order."""
    changes = {key: value for key, value in (("paused", paused), ("max_concurrency", max_concurrency))
               if value is not UNCHANGED}
    with transaction.atomic():
        group = NodeGroup.objects.select_for_update().filter(pk=name).first()
        if group is None:
            raise NotFound("No such node group.")
        for key, value in changes.items():
            setattr(group, key, value)
        if changes:
            group.save(update_fields=list(changes))
    return group
