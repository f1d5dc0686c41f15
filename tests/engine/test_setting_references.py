"""Settings from data (engine.steps.references): a setting `{"from": "/pointer"}` takes its value from the
step's input; `resolve` puts it in and checks it against the step type's config_schema, naming the setting
and the pointer when it is missing or not valid; `widen` lets a config_schema accept references at load."""
from datetime import UTC, datetime

import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.steps import reference as docs_reference
from engine.steps import registry
from engine.steps.pointers import pointer_problem
from engine.steps.references import SettingFromDataError, is_reference, resolve, widen

NOW = datetime(2030, 1, 1, tzinfo=UTC)


def schema_of(type_name):
    return registry.get(type_name).config_schema


def refused(config, data, type_name):
    with pytest.raises(SettingFromDataError) as caught:
        resolve(config, data, schema=schema_of(type_name), now=NOW)
    return caught.value


@pytest.mark.parametrize(("value", "expected"), [
    ({"from": "/a"}, True), ({"from": ""}, True), ({"from": 5}, True),
    ({"from": "/a", "default": 1}, False), ({"From": "/a"}, False), ("/a", False), ([{"from": "/a"}], False),
    (None, False), ({}, False),
])
def test_a_reference_is_an_object_whose_one_key_is_from(value, expected):
    assert is_reference(value) is expected


@pytest.mark.parametrize(("type_name", "config", "data", "expected"), [
    ("util/sleep", {"duration": {"from": "/customer/trial_period"}}, {"customer": {"trial_period": "P30D"}},
     {"duration": "P30D"}),
    ("util/sleep", {"until": {"from": "/at"}}, {"at": "2030-02-01T00:00:00Z"}, {"until": "2030-02-01T00:00:00Z"}),
    ("util/wait-switch", {"switch": {"from": "/switch"}, "timeout": {"from": "/limits/wait"}, "scope": "global"},
     {"switch": "approved-42", "limits": {"wait": "PT1H"}},
     {"switch": "approved-42", "timeout": "PT1H", "scope": "global"}),
    ("util/child-pipeline", {"pipeline": {"from": "/kind"}}, {"kind": "gold-flow"}, {"pipeline": "gold-flow"}),
    ("util/child-pipeline", {"field": "tier", "map": {"gold": {"from": "/gold"}, "plain": "plain-flow"}},
     {"gold": "gold-flow"}, {"field": "tier", "map": {"gold": "gold-flow", "plain": "plain-flow"}}),
    ("util/call", {"transaction_type": {"from": "/a~1b"}, "data": {"from": "/extra"}},
     {"a/b": "child", "extra": {"x": 1}}, {"transaction_type": "child", "data": {"x": 1}}),
    ("util/callback", {"name": "approval", "timeout": {"from": "/deadline"}}, {"deadline": "P2D"},
     {"name": "approval", "timeout": "P2D"}),
    ("util/await", {"callback": "approval", "timeout": {"from": "/deadline"}}, {"deadline": "P2D"},
     {"callback": "approval", "timeout": "P2D"}),
    ("util/delay", {"min_ms": {"from": "/low"}, "max_ms": 10}, {"low": 5}, {"min_ms": 5, "max_ms": 10}),
    ("util/mandatory-fields", {"fields": ["id", {"from": "/extra_field"}]}, {"extra_field": "email"},
     {"fields": ["id", "email"]}),
    ("util/set", {"values": {"from": ""}}, {"a": 1}, {"values": {"a": 1}}),
])
def test_a_reference_takes_its_value_from_the_input(type_name, config, data, expected):
    assert resolve(config, data, schema=schema_of(type_name), now=NOW) == expected


def test_inside_a_free_form_object_a_from_object_is_data():
    config = {"values": {"mail": {"from": "/me"}}}
    assert resolve(config, {"me": "x"}, schema=schema_of("util/set")) is config


def test_a_config_without_references_is_returned_as_it_is():
    config = {"duration": "P1D"}
    assert resolve(config, {}, schema=schema_of("util/sleep")) is config


def test_the_value_is_a_copy_of_the_input():
    data = {"extra": {"x": [1]}}
    resolved = resolve({"transaction_type": "child", "data": {"from": "/extra"}}, data, schema=schema_of("util/call"))
    resolved["data"]["x"].append(2)
    assert data == {"extra": {"x": [1]}}


def test_a_fixed_setting_is_taken_as_written():
    schema = {"type": "object", "properties": {"rules": {"type": "object"}, "name": {"type": "string"}}}
    config = {"rules": {"from": "/r"}, "name": {"from": "/n"}}
    assert resolve(config, {"n": "x"}, schema=schema, fixed=("rules",)) == {"rules": {"from": "/r"}, "name": "x"}
    assert widen(schema, fixed=("rules",))["properties"]["rules"] == {"type": "object"}


@pytest.mark.parametrize(("type_name", "config", "data", "setting", "pointer", "message"), [
    ("util/sleep", {"duration": {"from": "/customer/trial"}}, {"customer": {}}, "duration", "/customer/trial",
     "setting `duration` from `/customer/trial`: no value at that path"),
    ("util/sleep", {"duration": {"from": "/t"}}, {"t": "abc"}, "duration", "/t",
     "setting `duration` from `/t`: 'abc' is not a valid duration (ISO 8601, such as \"P30D\")"),
    ("util/sleep", {"duration": {"from": "/t"}}, {"t": "-P1D"}, "duration", "/t",
     "setting `duration` from `/t`: '-P1D' is not a valid duration: a duration must not be negative"),
    ("util/sleep", {"duration": {"from": "/t"}}, {"t": "P9000Y"}, "duration", "/t",
     ("setting `duration` from `/t`: 'P9000Y' is not a valid duration: too long: it would end after "
      "9999-12-31T00:00:00Z")),
    ("util/sleep", {"duration": {"from": "/t"}}, {"t": 30}, "duration", "/t",
     "setting `duration` from `/t`: 30 is not of type 'string'"),
    ("util/sleep", {"until": {"from": "/at"}}, {"at": "2030-02-01T00:00:00"}, "until", "/at",
     ("setting `until` from `/at`: '2030-02-01T00:00:00' is not a valid timestamp: a timestamp needs a time "
      "zone (for example Z)")),
    ("util/sleep", {"until": {"from": "/at"}}, {"at": "soon"}, "until", "/at",
     ("setting `until` from `/at`: 'soon' is not a valid timestamp (ISO 8601 with a zone, such as "
      "\"2030-01-01T00:00:00Z\")")),
    ("util/wait-switch", {"switch": {"from": "/s"}}, {"s": "no spaces please"}, "switch", "/s",
     "setting `switch` from `/s`: 'no spaces please' does not match '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$'"),
    ("util/wait-switch", {"switch": "a", "scope": {"from": "/scope"}}, {"scope": "world"}, "scope", "/scope",
     "setting `scope` from `/scope`: 'world' is not one of ['transaction', 'global']"),
    ("util/child-pipeline", {"field": "tier", "map": {"gold": {"from": "/g"}}}, {"g": "Gold Flow"}, "map.gold", "/g",
     "setting `map.gold` from `/g`: 'Gold Flow' does not match '^[a-z0-9][a-z0-9_.-]{0,99}$'"),
    ("util/mandatory-fields", {"fields": {"from": "/f"}}, {"f": ["a", 3]}, "fields", "/f",
     "setting `fields` from `/f`: at [1]: 3 is not of type 'string'"),
    ("util/delay", {"min_ms": {"from": "/low"}}, {"low": -1}, "min_ms", "/low",
     "setting `min_ms` from `/low`: -1 is less than the minimum of 0"),
    ("util/mandatory-fields", {"fields": [{"from": "nope"}]}, {}, "fields[0]", "nope",
     "setting `fields[0]` from `nope`: " + pointer_problem("nope")),
])
def test_a_missing_or_invalid_value_names_the_setting_and_the_pointer(type_name, config, data, setting, pointer,
                                                                      message):
    error = refused(config, data, type_name)
    assert (error.setting, error.pointer, error.message, str(error)) == (setting, pointer, message, message)
    assert error.code == "setting_from_data" and error.problem in message


def test_a_problem_in_no_reference_names_the_setting_without_a_pointer():
    schema = {"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "integer"}}}
    with pytest.raises(SettingFromDataError) as caught:
        resolve({"a": {"from": "/a"}, "b": "x"}, {"a": "ok"}, schema=schema)
    assert (caught.value.setting, caught.value.pointer) == ("b", None)
    assert caught.value.message == "setting `b`: 'x' is not of type 'integer'"


def pointer_checker():
    checker = jsonschema.FormatChecker([])
    checker.checks("json-pointer")(lambda value: not isinstance(value, str) or pointer_problem(value) is None)
    return checker


def load_errors(type_name, config):
    validator = jsonschema.Draft202012Validator(widen(schema_of(type_name)), format_checker=pointer_checker())
    return sorted(error.message for error in validator.iter_errors(config))


def test_a_widened_schema_loads_references_and_refuses_what_the_schema_refused():
    assert load_errors("util/sleep", {"duration": {"from": "/customer/trial_period"}}) == []
    assert load_errors("util/child-pipeline", {"field": "t", "map": {"gold": {"from": "/g"}}}) == []
    assert load_errors("util/mandatory-fields", {"fields": ["a", {"from": "/f"}]}) == []
    assert load_errors("util/sleep", {"duration": 5}) == ["5 is not of type 'string'"]
    assert load_errors("util/sleep", {"duration": {"from": "/t"}, "until": {"from": "/u"}}) != []
    assert load_errors("util/sleep", {"duration": {"from": "/t"}, "loud": True}) == [
        "Additional properties are not allowed ('loud' was unexpected)"]
    assert load_errors("util/sleep", {"duration": {"from": 5}}) == ["5 is not of type 'string'"]
    assert load_errors("util/sleep", {"duration": {"from": "t"}}) == ["'t' is not a 'json-pointer'"]
    assert load_errors("util/sleep", {"duration": {"from": "/t", "or": "P1D"}}) == [
        "{'from': '/t', 'or': 'P1D'} is not of type 'string'"]


@pytest.mark.parametrize("type_name", sorted(docs_reference.builtin_types()))
def test_every_setting_of_every_builtin_accepts_a_reference_once_widened(type_name):
    schema = schema_of(type_name)
    widened = widen(schema)
    jsonschema.Draft202012Validator.check_schema(widened)
    for name, prop in widened.get("properties", {}).items():
        assert jsonschema.Draft202012Validator(prop).is_valid({"from": "/x"}), name
    assert widen(schema) == widened and schema == registry.get(type_name).config_schema


def test_widening_leaves_the_step_type_schema_and_its_docs_alone():
    schema = schema_of("util/wait-switch")
    before = docs_reference.settings_table(schema)
    widen(schema)
    assert docs_reference.settings_table(schema) == before and "if" not in schema["properties"]["switch"]


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=4),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
                    max_leaves=8)


@given(st.text(max_size=6), JSON)
def test_a_setting_of_any_value_takes_whatever_its_escaped_pointer_names(key, value):
    pointer = "/" + key.replace("~", "~0").replace("/", "~1")
    schema = {"type": "object", "properties": {"any": {"description": "Anything."}}}
    assert resolve({"any": {"from": pointer}}, {key: value}, schema=schema) == {"any": value}
