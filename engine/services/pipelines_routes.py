"""The routes of a pipeline's steps (`on`), checked when it is loaded: each key an outcome the step's type
may end with (a fixed one, one it declares, any name if it declares none) or `*`; each target a step of
the pipeline or `end`."""
from engine.states import NOT_OUTCOME_NAMES, OTHER_OUTCOMES, ROUTABLE_OUTCOMES
from engine.steps import hints, registry
from engine.steps.outcomes import outcome_name_problem, undeclared_problem


def route_key_problem(step_type, declared, key):
    """Return why `key` cannot be a route of a step of `step_type` (None when the type is unknown) that
    declares the outcomes `declared` (None: none, or its config is not valid), or None."""
    if key == OTHER_OUTCOMES or key in ROUTABLE_OUTCOMES:
        return None
    if key in NOT_OUTCOME_NAMES:
        return (f"{key!r} is not routable: a route catches {', '.join(ROUTABLE_OUTCOMES)}, an outcome of the "
                f"step type's own, or {OTHER_OUTCOMES} (every other)")
    problem = outcome_name_problem(key)
    if problem:
        return f"not an outcome: {problem}"
    problem = undeclared_problem(step_type, key, declared) if step_type is not None else None
    if problem is None:
        return None
    close = hints.closest(key, [*declared, *ROUTABLE_OUTCOMES])
    return problem + (f": did you mean `{close}`?" if close else "")


def check_routes(steps, names, errors, outcomes):
    """Add to `errors` a problem, with its path, for each route of `steps` (whose names are `names`; `outcomes`
    {index: the outcomes it declares} for each step of a known type with a valid config)."""
    for index, step in enumerate(steps):
        if not isinstance(step, dict) or "on" not in step:
            continue
        routes = step["on"]
        if not isinstance(routes, dict):
            errors.append(f"steps[{index}].on: must be an object")
            continue
        step_type = registry.get(step.get("type")) if isinstance(step.get("type"), str) else None
        for outcome, target in routes.items():
            where = f"steps[{index}].on.{outcome}"
            problem = route_key_problem(step_type, outcomes.get(index), outcome)
            if problem:
                errors.append(f"{where}: {problem}")
            elif target != "end" and target not in names:
                errors.append(f"{where}: route to unknown step {target!r}")
