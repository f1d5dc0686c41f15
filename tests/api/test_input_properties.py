"""Properties of every input parser of the API: whatever a request holds, each answers a value or one of
the typed errors (invalid_request naming its fields, invalid_json, payload_too_large), never anything else."""
import io
import json
import math

from django.http import QueryDict
from django.test import override_settings
from hypothesis import example, given, settings
from hypothesis import strategies as st
from rest_framework.exceptions import ParseError
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from engine import conf
from engine.api import inputs, pagination
from engine.api.parsers import JsonParser, PayloadTooLarge
from engine.api.views import listing
from engine.errors import InvalidPipeline, InvalidRequest
from engine.services import switches
from engine.services.pipelines import pipeline_validate
from tests import boundaries

FAST = settings(max_examples=boundaries.budget(50), deadline=None, derandomize=True)
SMALL = 4096
DEEP = b"[" * 2000 + b"]" * 2000  # within SMALL, past Python's recursion limit and MAX_DEPTH

EDGE_TEXT = st.one_of(boundaries.texts, boundaries.durations, boundaries.timestamps)
SCALARS = st.one_of(boundaries.scalars, st.floats(allow_nan=False, allow_infinity=False), st.integers())
JSON = st.one_of(boundaries.json_values, st.recursive(
    SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(EDGE_TEXT, inner, max_size=3)),
    max_leaves=12))
FIELDS = ("transaction_type", "external_id", "data", "metadata", "deadline", "webhook", "wait", "reason", "value")
BODIES = st.dictionaries(st.one_of(st.sampled_from(FIELDS), EDGE_TEXT), JSON, max_size=6)


def encoded(value):
    return json.dumps(value).encode("utf-8", "surrogatepass")


@FAST
@given(st.one_of(st.binary(max_size=64), JSON.map(encoded), BODIES.map(encoded),
                 st.sampled_from([DEEP, b"NaN", b"[Infinity]", b"\xff", b"1e400", b"x" * (SMALL + 1),
                                  b'{"external_id": "a\\u0000b"}', b'{"a\\u0000": 1}', b'"\\ud800"'])))
def test_the_json_parser_answers_a_value_or_a_typed_error(raw):
    with override_settings(DATP={**conf.DEFAULTS, "MAX_PAYLOAD_BYTES": SMALL}):
        try:
            value = JsonParser().parse(io.BytesIO(raw))
        except (ParseError, PayloadTooLarge):
            return
        except InvalidRequest as exc:
            fields = exc.extra["fields"]
            assert fields and all(name == "body" or name in json.loads(raw) for name in fields)
            return
    assert json.loads(raw) == value or value != value


@FAST
@given(BODIES)
@example({"external_id": "a\x00b", "wait": "P1000000Y"})
def test_reading_fields_answers_values_or_one_invalid_request_naming_them(body):
    fields = inputs.Fields(body)
    fields.string("transaction_type", required=True, max_length=100)
    fields.string("reason", max_length=2000, default="")
    fields.boolean("webhook_progress")
    wait = fields.raw("wait")
    try:
        fields.done()
        inputs.wait_seconds(wait)
    except InvalidRequest as exc:
        assert set(exc.extra["fields"]) <= set(body) | {"transaction_type"}


@FAST
@given(st.one_of(SCALARS, JSON))
def test_a_wait_is_seconds_up_to_max_wait_or_invalid_request_on_wait(value):
    try:
        seconds = inputs.wait_seconds(value)
    except InvalidRequest as exc:
        assert list(exc.extra["fields"]) == ["wait"]
        return
    assert 0 <= seconds <= 30


QUERY = st.dictionaries(st.sampled_from(["limit", "cursor", "status", "created_after", "created_before",
                                         "waiting_reason", "expand", "external_id", "wait"]),
                        EDGE_TEXT.filter(boundaries.in_a_url), max_size=5)


@FAST
@given(QUERY)
@example({"limit": "\u00b2"})
@example({"limit": "9" * 5000})
@example({"created_after": "0001-01-01T00:00:00+01:00"})
def test_the_list_query_answers_filters_or_one_invalid_request_naming_them(params):
    query = QueryDict(mutable=True)
    query.update(params)
    request = Request(APIRequestFactory().get("/api/v1/transactions", query))
    for read in (lambda: listing._filters(request.query_params), lambda: pagination.page_limit(request),
                 lambda: listing._after(request)):
        try:
            read()
        except InvalidRequest as exc:
            assert set(exc.extra["fields"]) <= set(params)


@FAST
@given(st.one_of(SCALARS, JSON))
def test_a_switch_value_is_a_scalar_or_invalid_request(value):
    """Accepted exactly when it is a JSON scalar a switch can hold; anything else is InvalidRequest."""
    try:
        switches.validate_switch_value(value=value)
    except InvalidRequest as refused:
        assert refused.extra["fields"]["value"]
        assert not (value is None or isinstance(value, bool | int) or (
            isinstance(value, float) and math.isfinite(value)) or (
            isinstance(value, str) and len(value) <= switches.MAX_STRING))
    else:
        assert value is None or isinstance(value, bool | int | float | str)


STEP_TYPES = st.sampled_from(["util/echo", "util/sleep", "util/delay", "util/wait-switch", "util/await",
                              "util/callback", "util/child-pipeline", "nope", 3])
TIME_VALUES = st.one_of(EDGE_TEXT, st.integers(), st.sampled_from(["PT1S", "P7000Y", "P8000Y", "P1.5Y"]))
CONFIGS = st.dictionaries(st.sampled_from(["duration", "until", "timeout", "poll_interval", "switch", "min_ms",
                                           "max_ms", "callback"]), st.one_of(TIME_VALUES, JSON), max_size=3)
STEPS = st.fixed_dictionaries({"type": STEP_TYPES}, optional={
    "name": EDGE_TEXT, "config": st.one_of(CONFIGS, JSON),
    "retry": st.dictionaries(st.sampled_from(["max_attempts", "backoff", "max_backoff"]), TIME_VALUES, max_size=3),
    "on": st.dictionaries(EDGE_TEXT, EDGE_TEXT, max_size=2)})
DEFINITIONS = st.one_of(JSON, st.fixed_dictionaries(
    {"name": st.one_of(st.just("p"), EDGE_TEXT), "steps": st.one_of(st.lists(STEPS, max_size=3), JSON)},
    optional={"deadline": TIME_VALUES, "node_group": EDGE_TEXT, "transaction_type": JSON}))


@FAST
@given(DEFINITIONS)
@example({"name": "p", "deadline": "P1000000Y", "steps": [{"type": "util/sleep", "config": {"duration": "P1.5Y"}}]})
def test_pipeline_validation_answers_a_definition_or_invalid_pipeline_with_paths(definition):
    try:
        pipeline_validate(definition=definition)
    except InvalidPipeline as exc:
        assert exc.errors and all(isinstance(error, str) and ": " in error for error in exc.errors)
