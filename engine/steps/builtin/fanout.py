"""util/map: run a child pipeline for each item of a list in the input and join them (issue 19)."""
from engine.joins import JOIN_MODES, ON_FAILURE
from engine.limits import PIPELINE_NAME_PATTERN
from engine.states import ROUTABLE_OUTCOMES
from engine.steps import Step, register
from engine.steps.pointers import MISSING, POINTER_MAX, lookup, pointer_problem

PERCENT_PATTERN = r"^(100|[0-9]{1,2}(\.[0-9]+)?)\s*%$"


@register
class Map(Step):
    """Start a child of `pipeline` for each item of the list at `items` (a JSON pointer into the input), at most
    `max_parallel` at a time, and join them: `all` (default) waits for every child, `all_success` needs every
    one to succeed, `any` the first success, `first_n` that many. The output is the input with `results`:
    one {"index", "tx_id", "status", "data"} per item, in item order. The step fails when more children failed
    than `tolerated_failures` allows (or `any`/`first_n` can no longer succeed); the children still running
    are then cancelled, unless `on_failure` is `finish_all`."""

    type_name = "util/map"
    outcomes = ROUTABLE_OUTCOMES
    config_schema = {
        "type": "object",
        "properties": {
            "items": {"type": "string", "maxLength": POINTER_MAX,
                      "description": "JSON pointer to the list in the input (`/orders`); each item is a child's "
                                     "data (an item that is not an object: `{\"item\": value}`)."},
            "pipeline": {"type": "string", "pattern": PIPELINE_NAME_PATTERN,
                         "description": "The child pipeline each item runs."},
            "data": {"type": "object", "default": {},
                     "description": "Data every child gets, under its item (deep-merged)."},
            "join": {"enum": list(JOIN_MODES), "default": "all",
                     "description": "When the step goes on: all children ended (`all`), all succeeded "
                                    "(`all_success`), one succeeded (`any`), `first_n` succeeded."},
            "first_n": {"type": "integer", "minimum": 1, "description": "The successes `first_n` waits for."},
            "tolerated_failures": {
                "oneOf": [{"type": "integer", "minimum": 0}, {"type": "string", "pattern": PERCENT_PATTERN}],
                "description": "Failures (a count, or a percentage of the items such as \"5%\") the step "
                               "tolerates; default unlimited for `all`, 0 for `all_success`."},
            "max_parallel": {"type": "integer", "minimum": 1,
                             "description": "At most this many children at a time (default: all at once)."},
            "on_failure": {"enum": list(ON_FAILURE), "default": "fail_fast",
                           "description": "`fail_fast` cancels the running children once the step must fail; "
                                          "`finish_all` lets every child end first."},
            "result_field": {"type": "string", "minLength": 1, "maxLength": 100, "default": "results",
                             "description": "The key of the output that holds the results."},
        },
        "required": ["items", "pipeline"],
        "additionalProperties": False,
    }

    @classmethod
    def config_problems(cls, config):
        problems = []
        if isinstance(config.get("items"), str) and pointer_problem(config["items"]):
            problems.append(f"items: {pointer_problem(config['items'])}")
        if (config.get("join") == "first_n") != ("first_n" in config):
            problems.append("first_n: is required with join first_n, and only with it")
        return problems

    @classmethod
    def pipelines_named(cls, config):
        return [(("pipeline",), config["pipeline"])] if isinstance(config.get("pipeline"), str) else []

    def invoke(self, ctx):
        config = ctx.config
        items = lookup(ctx.input, config["items"])
        if items is MISSING or not isinstance(items, list):
            found = "nothing" if items is MISSING else f"a {type(items).__name__}"
            return ctx.failed(f"items: the input has {found} at {config['items']}, not a list")
        group = ctx.start_children(
            config["pipeline"], items, data=config.get("data"), join=config.get("join", "all"),
            first_n=config.get("first_n"), tolerated_failures=config.get("tolerated_failures"),
            max_parallel=config.get("max_parallel"), on_failure=config.get("on_failure", "fail_fast"))
        if not group.decided:
            return ctx.wait(children=group, note=group.describe())
        output = {**ctx.input, config.get("result_field", "results"): group.results}
        if group.outcome == "success":
            return ctx.succeeded(group.describe(), output)
        return ctx.failed(group.describe(), output)
