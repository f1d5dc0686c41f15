"""util/choice's rule language (engine.steps.rules): every operator true, false, on a missing path and on a
value of the wrong type; all/any/not; the first rule that holds wins, else the default; JSON pointers with
their escapes; and every problem a config can have, with its path."""
import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.steps import rules
from engine.steps.pointers import MISSING, lookup, pointer_problem, tokens

ABSENT = object()  # the input has no value at the path


def outcome(condition, value):
    """Return the outcome of a one-rule config whose rule holds ("yes") or not ("no") for /v = value."""
    config = {"rules": [{"when": condition, "outcome": "yes"}], "default": "no"}
    assert rules.validate_rules(config) == []
    return rules.choose(config, {} if value is ABSENT else {"v": value})[0]


# (operator, operand, the value at /v, whether the comparison holds)
TABLE = [
    ("equals", 5, 5, True), ("equals", 5, 5.0, True), ("equals", 5, 6, False), ("equals", "a", "a", True),
    ("equals", {"a": [1, True]}, {"a": [1, True]}, True), ("equals", [1, 2], [2, 1], False),
    ("equals", None, None, True), ("equals", 5, ABSENT, False),
    ("equals", 1, True, False), ("equals", True, 1, False), ("equals", "1", 1, False), ("equals", None, 0, False),
    ("equals", {"a": 1}, {"a": True}, False), ("equals", [1], [True], False),
    ("not_equals", 5, 6, True), ("not_equals", 5, 5, False), ("not_equals", 5, ABSENT, False),
    ("not_equals", 1, True, True), ("not_equals", "1", 1, True),
    ("lt", 10, 9, True), ("lt", 10, 10, False), ("lt", 10, ABSENT, False), ("lt", 10, "9", False),
    ("le", 10, 10, True), ("le", 10, 10.5, False), ("le", 10, ABSENT, False), ("le", 10, None, False),
    ("gt", 1000, 1500, True), ("gt", 1000, 1000, False), ("gt", 1000, ABSENT, False), ("gt", 1, True, False),
    ("ge", 1000, 1000, True), ("ge", 1000, 999.9, False), ("ge", 1000, ABSENT, False), ("ge", 1, [2], False),
    ("gt", "b", "c", True), ("gt", "b", "a", False), ("gt", "b", 3, False), ("lt", 3, "2", False),
    ("lt", "2024-06-01", "2024-05-31", True), ("ge", "2024-06-01", "2024-06-01", True),
    # Timestamps with a zone compare as instants: 10:00+02:00 is 08:00Z, before 09:00Z.
    ("lt", "2024-06-01T09:00:00Z", "2024-06-01T10:00:00+02:00", True),
    ("gt", "2024-06-01T09:00:00Z", "2024-06-01T10:00:00+02:00", False),
    ("in", ["travel", "meals"], "travel", True), ("in", ["travel"], "office", False), ("in", ["a"], ABSENT, False),
    ("in", [1, 2], 2.0, True), ("in", [1, 2], True, False), ("in", [["a"]], ["a"], True), ("in", [], "a", False),
    ("not_in", ["travel"], "office", True), ("not_in", ["travel"], "travel", False),
    ("not_in", ["travel"], ABSENT, False), ("not_in", [1], True, True),
    ("exists", True, 0, True), ("exists", True, None, True), ("exists", True, ABSENT, False),
    ("exists", False, ABSENT, True), ("exists", False, "x", False),
    ("matches", "^[A-Z]{2}-\\d+$", "EU-42", True), ("matches", "^[A-Z]{2}-\\d+$", "EU-42x", False),
    ("matches", "gold", "a gold card", True), ("matches", "gold", ABSENT, False), ("matches", "1", 1, False),
    ("matches", "(?i)^GOLD$", "gold", True), ("matches", ".*", None, False),
]


@pytest.mark.parametrize(("operator", "operand", "value", "expected"), TABLE)
def test_each_operator_holds_or_not_on_values_missing_paths_and_wrong_types(operator, operand, value, expected):
    assert outcome({"path": "/v", operator: operand}, value) == ("yes" if expected else "no")


def test_the_table_covers_every_operator_true_false_and_missing():
    covered = {(operator, expected) for operator, _, value, expected in TABLE if value is not ABSENT}
    missing = {operator for operator, _, value, _ in TABLE if value is ABSENT}
    assert covered == {(operator, answer) for operator in rules.COMPARISONS for answer in (True, False)}
    assert missing == set(rules.COMPARISONS)


EXPENSE = {
    "rules": [
        {"when": {"all": [{"path": "/expense/amount", "gt": 1000}, {"path": "/expense/category", "in": ["travel"]}]},
         "outcome": "review"},
        {"when": {"path": "/approved", "equals": True}, "outcome": "approve", "description": "Approved by hand."},
        {"when": {"any": [{"path": "/expense/amount", "le": 10}, {"not": {"path": "/expense", "exists": True}}]},
         "outcome": "approve"},
    ],
    "default": "reject",
}


def test_the_first_rule_that_holds_wins_and_the_default_takes_the_rest():
    assert rules.validate_rules(EXPENSE) == []
    big_travel = {"expense": {"amount": 1500, "category": "travel"}, "approved": True}
    assert rules.choose(EXPENSE, big_travel) == ("review", 0)
    assert rules.choose(EXPENSE, {**big_travel, "expense": {"amount": 1500, "category": "meals"}}) == ("approve", 1)
    assert rules.choose(EXPENSE, {"expense": {"amount": 5}}) == ("approve", 2)
    assert rules.choose(EXPENSE, {}) == ("approve", 2)
    assert rules.choose(EXPENSE, {"expense": {"amount": 500}}) == ("reject", None)


def test_outcomes_of_names_each_outcome_once_in_order_with_the_default():
    assert rules.outcomes_of(EXPENSE) == ["review", "approve", "reject"]
    assert rules.outcomes_of({"rules": [{"when": {"path": "", "exists": True}, "outcome": "a"}],
                              "default": "a"}) == ["a"]


def test_all_any_and_not_nest():
    inside = {"any": [{"path": "/a", "equals": 1}, {"not": {"all": [{"path": "/b", "gt": 0}, {"path": "/c", "lt": 0}]}}]}
    condition = {"not": {"not": inside}}
    assert outcome(condition, ABSENT) == "yes"  # /b and /c missing: the all is false, its not true
    config = {"rules": [{"when": condition, "outcome": "yes"}], "default": "no"}
    assert rules.choose(config, {"b": 1, "c": -1})[0] == "no"
    assert rules.choose(config, {"a": 1, "b": 1, "c": -1})[0] == "yes"


def test_not_of_a_comparison_on_a_missing_path_holds():
    assert outcome({"not": {"path": "/v", "equals": 1}}, ABSENT) == "yes"


@pytest.mark.parametrize(("pointer", "data", "expected"), [
    ("", {"a": 1}, {"a": 1}),
    ("/a~1b", {"a/b": 1, "a": {"b": 2}}, 1),
    ("/m~0n", {"m~n": 3, "m~0n": 4}, 3),
    ("/~01", {"~1": 5, "/": 6}, 5),
    ("/", {"": 7}, 7),
    ("/list/1", {"list": ["x", "y"]}, "y"),
    ("/list/01", {"list": ["x", "y"]}, MISSING),
    ("/list/-", {"list": ["x"]}, MISSING),
    ("/list/2", {"list": ["x"]}, MISSING),
    ("/a/b", {"a": "text"}, MISSING),
    ("/a/b", {"a": None}, MISSING),
])
def test_pointers_follow_rfc_6901_with_their_escapes(pointer, data, expected):
    assert lookup(data, pointer) == expected if expected is not MISSING else lookup(data, pointer) is MISSING


def test_a_rule_reads_a_key_with_slash_and_tilde_through_escapes():
    assert rules.choose({"rules": [{"when": {"path": "/a~1b/c~0d", "equals": 1}, "outcome": "found"}],
                         "default": "none"}, {"a/b": {"c~d": 1}}) == ("found", 0)


@given(st.text(max_size=8), st.integers())
def test_any_key_escaped_is_found_again(key, value):
    pointer = "/" + key.replace("~", "~0").replace("/", "~1")
    assert pointer_problem(pointer) is None
    assert tokens(pointer) == [key] and lookup({key: value}, pointer) == value


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=4),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
                    max_leaves=8)


@given(JSON, JSON)
def test_not_equals_is_the_opposite_of_equals_on_a_present_value(value, operand):
    assert outcome({"path": "/v", "equals": operand}, value) != outcome({"path": "/v", "not_equals": operand}, value)


@given(JSON, st.lists(JSON, max_size=4))
def test_not_in_is_the_opposite_of_in_on_a_present_value(value, operand):
    assert outcome({"path": "/v", "in": operand}, value) != outcome({"path": "/v", "not_in": operand}, value)


@given(st.integers() | st.floats(allow_nan=False), st.integers() | st.floats(allow_nan=False))
def test_numbers_order_as_python_orders_them(value, operand):
    for operator, holds in (("lt", value < operand), ("le", value <= operand), ("gt", value > operand),
                            ("ge", value >= operand)):
        assert outcome({"path": "/v", operator: operand}, value) == ("yes" if holds else "no")


@given(st.lists(st.booleans(), min_size=1, max_size=5), st.booleans())
def test_all_any_and_not_agree_with_python(flags, negate):
    parts = [{"path": f"/{index}", "equals": True} for index in range(len(flags))]
    data = {str(index): flag for index, flag in enumerate(flags)}
    for key, expected in (("all", all(flags)), ("any", any(flags))):
        condition = {key: parts}
        if negate:
            condition, expected = {"not": condition}, not expected
        assert rules.holds(condition, data) is expected


@given(st.lists(st.integers(min_value=0, max_value=3), min_size=1, max_size=6), st.integers(min_value=0, max_value=3))
def test_the_first_rule_that_holds_is_chosen(thresholds, value):
    config = {"rules": [{"when": {"path": "/v", "ge": limit}, "outcome": f"rule{index}"}
                        for index, limit in enumerate(thresholds)], "default": "none"}
    first = next((index for index, limit in enumerate(thresholds) if value >= limit), None)
    assert rules.choose(config, {"v": value}) == ((f"rule{first}", first) if first is not None else ("none", None))


def rule(when, outcome_name="ok"):
    return {"rules": [{"when": when, "outcome": outcome_name}], "default": "other"}


OPERATORS = ", ".join(rules.COMPARISONS)
NOT_A_POINTER = ("is not a JSON pointer: it starts with \"/\" (or is \"\" for the whole input), and \"~\" is "
                 "written only as \"~0\" (for ~) or \"~1\" (for /)")
PROBLEMS = [
    ([], ["config: must be an object with `rules` and `default`"]),
    ({"default": "x"}, ["rules: required, a list of at least one rule"]),
    ({"rules": [], "default": "x", "else": "y"}, ["else: unknown field", "rules: required, a list of at least one rule"]),
    ({"rules": [{"when": {"path": "/a", "exists": True}, "outcome": "x"}]},
     ["default: required (the outcome when no rule holds)"]),
    ({"rules": ["x"], "default": "y"}, ["rules[0]: must be an object with `when` and `outcome`"]),
    ({"rules": [{}], "default": "y"}, ["rules[0].when: required (the condition)",
                                      "rules[0].outcome: required (the outcome when the condition holds)"]),
    ({"rules": [{"when": {"path": "/a", "exists": True}, "outcome": "bad name", "then": 1, "description": 5}],
      "default": "*"},
     ["rules[0].then: unknown field (a rule has when, outcome, description)",
      "rules[0].outcome: an outcome name is 1 to 64 lower-case letters, digits or _, starting with a letter",
      "rules[0].description: must be text",
      "default: an outcome name is 1 to 64 lower-case letters, digits or _, starting with a letter"]),
    (rule("yes"), ["rules[0].when: must be an object: a comparison with `path`, or `all`, `any` or `not`"]),
    (rule({"equals": 1}), ["rules[0].when.path: required (a JSON pointer into the input, such as \"/order/total\")"]),
    (rule({"path": "a/b", "equals": 1}), [f"rules[0].when.path: 'a/b' {NOT_A_POINTER}"]),
    (rule({"path": "/a~2", "equals": 1}), [f"rules[0].when.path: '/a~2' {NOT_A_POINTER}"]),
    (rule({"path": 3, "equals": 1}), ["rules[0].when.path: must be a JSON pointer (text such as \"/customer/id\")"]),
    (rule({"path": "/" + "a" * 500, "equals": 1}), ["rules[0].when.path: a JSON pointer of at most 500 characters"]),
    (rule({"path": "/a"}), [f"rules[0].when: no operator (one of {OPERATORS})"]),
    (rule({"path": "/a", "eq": 1}), [f"rules[0].when.eq: unknown operator (one of {OPERATORS})",
                                     f"rules[0].when: no operator (one of {OPERATORS})"]),
    (rule({"path": "/a", "gt": 1, "lt": 5}),
     ["rules[0].when: one operator per comparison, not gt and lt (join comparisons with `all`)"]),
    (rule({"all": [{"path": "/a", "gt": True}]}),
     ["rules[0].when.all[0].gt: must be a number or a text (an ISO 8601 timestamp compares as a time)"]),
    (rule({"path": "/a", "le": None}),
     ["rules[0].when.le: must be a number or a text (an ISO 8601 timestamp compares as a time)"]),
    (rule({"any": [{"path": "/a", "in": "travel"}]}), ["rules[0].when.any[0].in: must be a list of values"]),
    (rule({"not": {"path": "/a", "not_in": {"a": 1}}}), ["rules[0].when.not.not_in: must be a list of values"]),
    (rule({"path": "/a", "exists": "yes"}), ["rules[0].when.exists: must be true or false"]),
    (rule({"path": "/a", "matches": 5}), ["rules[0].when.matches: must be a regular expression (text)"]),
    (rule({"path": "/a", "matches": "a" * 201}),
     ["rules[0].when.matches: a regular expression of at most 200 characters"]),
    (rule({"path": "/a", "matches": "(unclosed"}),
     ["rules[0].when.matches: not a regular expression: missing ), unterminated subpattern at position 0"]),
    (rule({"all": []}), ["rules[0].when.all: must be a list of at least one condition"]),
    (rule({"any": {"path": "/a", "exists": True}}), ["rules[0].when.any: must be a list of at least one condition"]),
    (rule({"all": [{"path": "/a", "exists": True}], "path": "/b"}),
     ["rules[0].when.path: unknown field beside `all` (it stands alone)"]),
    (rule({"not": "x"}), ["rules[0].when.not: must be an object: a comparison with `path`, or `all`, `any` or `not`"]),
]


@pytest.mark.parametrize(("config", "problems"), PROBLEMS)
def test_each_problem_of_a_config_is_named_with_its_path(config, problems):
    assert rules.validate_rules(config) == problems


def test_conditions_nest_at_most_sixteen_deep():
    condition = {"path": "/a", "exists": True}
    for _ in range(rules.DEPTH_MAX):
        condition = {"not": condition}
    assert rules.validate_rules(rule(condition)) == []
    where = "rules[0].when" + ".not" * rules.DEPTH_MAX
    assert rules.validate_rules(rule({"not": condition})) == [f"{where}: conditions nest at most 16 deep"]


def test_every_problem_of_a_config_is_named_at_once():
    config = {"rules": [{"when": {"path": "/a", "gt": True}, "outcome": "ok"},
                        {"when": {"all": [{"path": "x", "exists": True}]}, "outcome": "ok"}]}
    assert rules.validate_rules(config) == [
        "rules[0].when.gt: must be a number or a text (an ISO 8601 timestamp compares as a time)",
        f"rules[1].when.all[0].path: 'x' {NOT_A_POINTER}",
        "default: required (the outcome when no rule holds)",
    ]


def test_the_config_schema_describes_every_property_and_accepts_a_valid_config():
    import jsonschema

    jsonschema.Draft202012Validator.check_schema(rules.CONFIG_SCHEMA)
    assert list(jsonschema.Draft202012Validator(rules.CONFIG_SCHEMA).iter_errors(EXPENSE)) == []

    def undescribed(schema, where):
        missing = []
        for name, prop in schema.get("properties", {}).items():
            missing += [] if prop.get("description") else [f"{where}.{name}"]
            missing += undescribed(prop.get("items", prop), f"{where}.{name}")
        return missing

    assert undescribed(rules.CONFIG_SCHEMA, "config") == []


def test_a_condition_reads_in_one_line():
    assert rules.summary(EXPENSE["rules"][0]["when"]) == '/expense/amount > 1000 and /expense/category in ["travel"]'
    assert rules.summary(EXPENSE["rules"][2]["when"]) == "/expense/amount <= 10 or not (/expense exists)"
    condition = {"all": [{"any": [{"path": "/a", "not_equals": "x"}, {"path": "/b", "matches": "^é"}]},
                         {"path": "", "exists": False}, {"path": "/c", "not_in": [1, None]},
                         {"any": [{"path": "/d", "lt": 1}]}, {"path": "/e", "ge": "2024-01-01"},
                         {"path": "/f", "equals": None}]}
    assert rules.summary(condition) == ('(/a != "x" or /b matches "^é") and (the input) does not exist and '
                                        '/c not in [1, null] and /d < 1 and /e >= "2024-01-01" and /f = null')
