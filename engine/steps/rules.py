"""The rule language of `util/choice`: ordered rules over the step's input, each naming an outcome, and a
default. Check a config (every problem with its path), choose the outcome for some data, list the outcomes.

A condition is a comparison `{"path": "/json/pointer", "<operator>": operand}` or a combination
`{"all": [...]}`, `{"any": [...]}`, `{"not": {...}}`. Nothing in a config is ever run as code.
"""
import json
import re

from engine import durations
from engine.states import OUTCOME_NAME_PATTERN
from engine.steps.outcomes import outcome_name_problem
from engine.steps.pointers import MISSING, lookup, pointer_problem

COMPARISONS = ("equals", "not_equals", "lt", "le", "gt", "ge", "in", "not_in", "exists", "matches")
COMBINATIONS = ("all", "any", "not")
RULE_FIELDS = ("when", "outcome", "description")
PATTERN_MAX = 200  # characters of a `matches` expression: bounds what one comparison can cost
DEPTH_MAX = 16  # levels of all/any/not: deeper is a mistake, and bounds the recursion
_SYMBOLS = {"equals": "=", "not_equals": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">=", "in": "in",
            "not_in": "not in", "matches": "matches"}
_ORDER = {"lt": lambda sign: sign < 0, "le": lambda sign: sign <= 0,
          "gt": lambda sign: sign > 0, "ge": lambda sign: sign >= 0}

CONFIG_SCHEMA = {
    "type": "object",
    "properties": {
        "rules": {
            "type": "array", "minItems": 1,
            "items": {
                "type": "object",
                "properties": {
                    "when": {"type": "object", "description": "The condition: a comparison "
                             "{\"path\": \"/a/b\", \"<operator>\": value} or {\"all\": [...]}, {\"any\": [...]}, "
                             "{\"not\": {...}}."},
                    "outcome": {"type": "string", "pattern": OUTCOME_NAME_PATTERN,
                                "description": "The outcome the step ends with when the condition holds."},
                    "description": {"type": "string", "description": "What the rule is for, shown with it."},
                },
                "required": ["when", "outcome"],
                "additionalProperties": False,
            },
            "description": "Rules tried in order; the first whose `when` holds names the outcome.",
        },
        "default": {"type": "string", "pattern": OUTCOME_NAME_PATTERN,
                    "description": "The outcome when no rule holds."},
    },
    "required": ["rules", "default"],
    "additionalProperties": False,
}


def _is_number(value):
    return isinstance(value, int | float) and not isinstance(value, bool)


def same(value, operand):
    """Tell whether two JSON values are equal: numbers by value (1 equals 1.0), everything else only to a
    value of the same JSON type (true is not 1, "1" is not 1), objects and lists member by member."""
    if _is_number(value) and _is_number(operand):
        return value == operand
    if isinstance(value, bool) or isinstance(operand, bool) or value is None or operand is None:
        return value is operand
    if isinstance(value, str) and isinstance(operand, str):
        return value == operand
    if isinstance(value, list) and isinstance(operand, list):
        return len(value) == len(operand) and all(same(a, b) for a, b in zip(value, operand, strict=True))
    if isinstance(value, dict) and isinstance(operand, dict):
        return value.keys() == operand.keys() and all(same(value[key], operand[key]) for key in value)
    return False


def _instant(text):
    try:
        return durations.parse_timestamp(text)
    except durations.BadDuration:
        return None


def order(value, operand):
    """Return -1, 0 or 1 as `value` is before, equal to or after `operand`; None when they do not compare.

    Numbers compare by value; two ISO 8601 timestamps with a zone as instants; other texts by code point
    (so `2024-05-01` dates compare as dates); anything else (booleans, null, lists, objects, mixed) not at all.
    """
    if _is_number(value) and _is_number(operand):
        return (value > operand) - (value < operand)
    if isinstance(value, str) and isinstance(operand, str):
        left, right = _instant(value), _instant(operand)
        if left is None or right is None:
            left, right = value, operand
        return (left > right) - (left < right)
    return None


def _compare(operator, value, operand):
    if operator == "equals":
        return same(value, operand)
    if operator == "not_equals":
        return not same(value, operand)
    if operator in _ORDER:
        sign = order(value, operand)
        return sign is not None and _ORDER[operator](sign)
    if operator == "in":
        return any(same(value, item) for item in operand)
    if operator == "not_in":
        return not any(same(value, item) for item in operand)
    if operator == "matches":
        return isinstance(value, str) and re.search(operand, value) is not None
    raise ValueError(f"unknown operator {operator!r}")


def holds(condition, data):
    """Tell whether a (valid) condition holds for `data`. A path with no value makes every comparison
    false except `exists`; a value of the wrong type for its operator makes it false too."""
    if "all" in condition:
        return all(holds(part, data) for part in condition["all"])
    if "any" in condition:
        return any(holds(part, data) for part in condition["any"])
    if "not" in condition:
        return not holds(condition["not"], data)
    value = lookup(data, condition["path"])
    operator = next(key for key in condition if key != "path")
    if operator == "exists":
        return (value is not MISSING) is condition["exists"]
    return value is not MISSING and _compare(operator, value, condition[operator])


def choose(config, data):
    """Return `(outcome, index of the rule that chose it)` for a valid `config`: the first rule whose
    condition holds for `data`, else `(default, None)`."""
    for index, rule in enumerate(config["rules"]):
        if holds(rule["when"], data):
            return rule["outcome"], index
    return config["default"], None


def outcomes_of(config):
    """Return the outcome names a valid `config` can end with, each once, in the order they are written."""
    names = [rule["outcome"] for rule in config["rules"]] + [config["default"]]
    return list(dict.fromkeys(names))


def summary(condition, nested=False):
    """Return a (valid) condition in one line for people (the console, the flow drawing):
    `/expense/amount > 1000 and /expense/category in ["travel"]`."""
    if "not" in condition:
        return f"not ({summary(condition['not'])})"
    for key, word in (("all", " and "), ("any", " or ")):
        if key in condition:
            text = word.join(summary(part, nested=True) for part in condition[key])
            return f"({text})" if nested and len(condition[key]) > 1 else text
    operator = next(key for key in condition if key != "path")
    path = condition["path"] or "(the input)"
    if operator == "exists":
        return f"{path} {'exists' if condition['exists'] else 'does not exist'}"
    return f"{path} {_SYMBOLS[operator]} {json.dumps(condition[operator], ensure_ascii=False)}"


def _operand_problem(operator, operand):
    if operator in _ORDER and not (_is_number(operand) or isinstance(operand, str)):
        return "must be a number or a text (an ISO 8601 timestamp compares as a time)"
    if operator in ("in", "not_in") and not isinstance(operand, list):
        return "must be a list of values"
    if operator == "exists" and not isinstance(operand, bool):
        return "must be true or false"
    if operator == "matches":
        if not isinstance(operand, str):
            return "must be a regular expression (text)"
        if len(operand) > PATTERN_MAX:
            return f"a regular expression of at most {PATTERN_MAX} characters"
        try:
            re.compile(operand)
        except re.error as exc:
            return f"not a regular expression: {exc}"
    return None


def _check_comparison(condition, where, problems):
    if "path" not in condition:
        problems.append(f"{where}.path: required (a JSON pointer into the input, such as \"/order/total\")")
    else:
        problem = pointer_problem(condition["path"])
        if problem:
            problems.append(f"{where}.path: {problem}")
    for key in condition:
        if key != "path" and key not in COMPARISONS:
            problems.append(f"{where}.{key}: unknown operator (one of {', '.join(COMPARISONS)})")
    operators = [key for key in condition if key in COMPARISONS]
    if not operators:
        problems.append(f"{where}: no operator (one of {', '.join(COMPARISONS)})")
    elif len(operators) > 1:
        problems.append(f"{where}: one operator per comparison, not {' and '.join(operators)} "
                        "(join comparisons with `all`)")
    for operator in operators:
        problem = _operand_problem(operator, condition[operator])
        if problem:
            problems.append(f"{where}.{operator}: {problem}")


def _check_condition(condition, where, problems, depth=1):
    if not isinstance(condition, dict):
        problems.append(f"{where}: must be an object: a comparison with `path`, or `all`, `any` or `not`")
        return
    combination = [key for key in COMBINATIONS if key in condition]
    if not combination:
        _check_comparison(condition, where, problems)
        return
    if depth > DEPTH_MAX:
        problems.append(f"{where}: conditions nest at most {DEPTH_MAX} deep")
        return
    key = combination[0]
    for extra in condition:
        if extra != key:
            problems.append(f"{where}.{extra}: unknown field beside `{key}` (it stands alone)")
    if key == "not":
        _check_condition(condition["not"], f"{where}.not", problems, depth + 1)
    elif not isinstance(condition[key], list) or not condition[key]:
        problems.append(f"{where}.{key}: must be a list of at least one condition")
    else:
        for index, part in enumerate(condition[key]):
            _check_condition(part, f"{where}.{key}[{index}]", problems, depth + 1)


def _check_outcome(name, where, problems):
    problem = outcome_name_problem(name)  # the rule of ctx.outcome and of route keys
    if problem:
        problems.append(f"{where}: {problem}")


def validate_rules(config):
    """Return every problem of a util/choice config, each with its path (`rules[1].when.all[0].gt: ...`)."""
    if not isinstance(config, dict):
        return ["config: must be an object with `rules` and `default`"]
    problems = [f"{key}: unknown field" for key in config if key not in ("rules", "default")]
    rules = config.get("rules")
    if not isinstance(rules, list) or not rules:
        problems.append("rules: required, a list of at least one rule")
        rules = []
    for index, rule in enumerate(rules):
        where = f"rules[{index}]"
        if not isinstance(rule, dict):
            problems.append(f"{where}: must be an object with `when` and `outcome`")
            continue
        problems += [f"{where}.{key}: unknown field (a rule has {', '.join(RULE_FIELDS)})"
                     for key in rule if key not in RULE_FIELDS]
        if "when" in rule:
            _check_condition(rule["when"], f"{where}.when", problems)
        else:
            problems.append(f"{where}.when: required (the condition)")
        if "outcome" in rule:
            _check_outcome(rule["outcome"], f"{where}.outcome", problems)
        else:
            problems.append(f"{where}.outcome: required (the outcome when the condition holds)")
        if not isinstance(rule.get("description", ""), str):
            problems.append(f"{where}.description: must be text")
    if "default" in config:
        _check_outcome(config["default"], "default", problems)
    else:
        problems.append("default: required (the outcome when no rule holds)")
    return problems
