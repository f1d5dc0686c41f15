"""Schema-driven fuzzing: every operation of /api/schema/, with generated input, never answers 5xx
and always answers as the document says (status code and body).

The schema only gives types, so half the cases have some of their body fields, query parameters and path
parameters replaced by boundary values of their format (tests/boundaries.py): huge, negative and garbled
durations, far dates, ids at and past their limits, NUL and other control characters, deep JSON.

The budget per operation is DATP_FUZZ_EXAMPLES (default 10); `make fuzz` runs 500.
"""
import json
import os

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import (
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from datp_site.wsgi import application
from engine.services import schedules
from engine.services.owners import api_key_create
from tests import boundaries
from tests.api.conftest import PIPELINES

EXAMPLES = int(os.environ.get("DATP_FUZZ_EXAMPLES", "10"))
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]


# Serving the document needs no key and no database, so it is loaded once, at collection.
schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)

# The boundary values of each field or parameter, by name; any other gets texts at the edges.
BOUNDARIES = {
    "deadline": st.one_of(boundaries.durations, boundaries.timestamps), "wait": boundaries.durations,
    "created_after": boundaries.timestamps, "created_before": boundaries.timestamps,
    "limit": st.one_of(boundaries.numbers, boundaries.ids), "max_concurrency": boundaries.numbers,
    "data": boundaries.json_values, "metadata": boundaries.json_values, "value": boundaries.json_values,
    "steps": boundaries.json_values,
    "cron": st.one_of(boundaries.texts, st.sampled_from(["* * * * *", "0 0 31 2 *", "@daily", "0 9 * * MON#5",
                                                        "*/0 * * * *", "0 0 L * *", "59 23 31 12 7"])),
    "interval": boundaries.durations, "jitter": boundaries.durations, "catchup_window": boundaries.durations,
    "timezone": st.one_of(boundaries.texts, st.sampled_from(["UTC", "Europe/Paris", "europe/paris", "posix/UTC",
                                                            "Etc/GMT+14", "/etc/localtime", "."])),
    "start_at": boundaries.timestamps, "end_at": boundaries.timestamps, "start": boundaries.timestamps,
    "end": boundaries.timestamps,
}


def _boundary(name, in_url):
    found = BOUNDARIES.get(name, boundaries.texts)
    if in_url:  # a URL carries text: numbers as their text, nothing a URL cannot encode
        found = found.map(lambda value: value if isinstance(value, str) else json.dumps(value)).filter(
            boundaries.in_a_url)
    return found


def _with_boundaries(values, in_url=False):
    """The generated `values` as they are, or with some of them replaced by boundary values."""
    if not isinstance(values, dict) or not values:
        return st.just(values)
    replaced = st.lists(st.sampled_from(sorted(values)), min_size=1, unique=True).flatmap(
        lambda names: st.fixed_dictionaries({name: _boundary(name, in_url) for name in names}))
    return st.one_of(st.just(values), replaced.map(lambda new: {**values, **new}))


@schema.hook
def flatmap_body(context, body):
    return _with_boundaries(body)


@schema.hook
def flatmap_query(context, query):
    return _with_boundaries(query, in_url=True)


@schema.hook
def flatmap_path_parameters(context, path_parameters):
    return _with_boundaries(path_parameters, in_url=True)


@pytest.fixture
def world(harness):
    """Real objects for the path parameters: the API fixtures' pipelines (so starts can succeed), a
    sleeping, a failed and a finished transaction, a callback token, and a system key."""
    versions = harness.load(*PIPELINES)
    sleeping = harness.start("approval")
    hooked = harness.start("hooked")
    failed = harness.start("failing")
    done = harness.start("echo", external_id="order/17")
    for tx_id in (sleeping, hooked, failed, done):
        harness.run(tx_id)
    schedules.schedule_create(owner=harness.owner, name="nightly", actor="fuzz", transaction_type="echo",
                              cron="0 2 * * *", timezone="Europe/Paris")
    _, raw = api_key_create(owner=harness.owner, name="fuzz", system=True)
    return {
        "key": raw,
        "tx_id": [sleeping, hooked, failed, done],
        "external_id": ["order/17"],
        "token": [harness.callback_token(hooked)],
        "name": ["approved", "echo", "master", "nightly"],
        "version": [versions[0].version],
    }


def use_real_objects(case, world):
    """Point two generated path parameters in three at an existing object (chosen by the generated
    value, so hypothesis stays deterministic); the rest stay random and mostly meet 404."""
    for name, value in (case.path_parameters or {}).items():
        choices = world.get(name)
        if choices and len(str(value)) % 3:
            case.path_parameters[name] = choices[len(str(value)) % len(choices)]


@pytest.fixture(autouse=True)
def connection_kept_across_requests():
    """The requests go through the real WSGI handler, whose signals would close the test's connection
    (and with it the test's database transaction); Django's own test client unhooks them the same way."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.mark.django_db(transaction=False)
@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, print_blob=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.filter_too_much, HealthCheck.data_too_large])
def test_every_operation_answers_without_5xx_and_as_documented(case, world):
    use_real_objects(case, world)
    case.call_and_validate(headers={"Authorization": f"Bearer {world['key']}"}, checks=CHECKS)
