"""API keys: `Authorization: Bearer <key>` by one indexed lookup, 401 otherwise, the owner and actor
the views act for, and a `last_used_at` written at most once a minute."""
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient, APIRequestFactory

from engine.api.authentication import ApiKeyAuthentication, Principal
from engine.models import ApiKey
from engine.services.owners import api_key_create, api_key_revoke
from tests.api.conftest import start

STEP_TYPES = "/api/v1/step-types"


def client_with(header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    return client


def assert_401(response):
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_request_without_a_key_is_401(anon):
    assert_401(anon.get(STEP_TYPES))
    assert_401(anon.post("/api/v1/transactions", {"transaction_type": "echo"}, format="json"))
    assert_401(anon.get("/api/v1/transactions/tx-anything"))


@pytest.mark.parametrize("header", [
    "Bearer datp_not-a-key", "Bearer", "Bearer two parts", "Basic dXNlcjpwYXNz", "datp_key-without-scheme",
    "Bearer \u00e9t\u00e9",
])
def test_a_missing_malformed_or_unknown_key_is_401(db, header):
    assert_401(client_with(header).get(STEP_TYPES))


def test_a_valid_key_is_accepted_whatever_the_case_of_the_scheme(db):
    _, raw = api_key_create(owner="acme", name="app")
    assert client_with(f"bearer {raw}").get(STEP_TYPES).status_code == 200
    assert client_with(f"Bearer {raw}").get(STEP_TYPES).status_code == 200


def test_a_revoked_key_is_401(db):
    key, raw = api_key_create(owner="acme", name="app")
    client = client_with(f"Bearer {raw}")
    assert client.get(STEP_TYPES).status_code == 200
    api_key_revoke(key_id=key.pk)
    assert_401(client.get(STEP_TYPES))


def test_the_key_gives_the_owner_the_actor_and_the_system_flag(db):
    key, raw = api_key_create(owner="acme", name="ops", system=True)
    request = APIRequestFactory().get(STEP_TYPES, HTTP_AUTHORIZATION=f"Bearer {raw}")
    principal, auth = ApiKeyAuthentication().authenticate(request)
    assert principal == Principal(owner="acme", actor="api-key:ops", is_system=True, role="system")
    assert principal.is_authenticated
    assert auth.pk == key.pk


def test_a_transaction_started_with_a_key_belongs_to_its_owner_and_journals_its_name(api, harness):
    tx_id = start(api)
    tx = api.get(f"/api/v1/transactions/{tx_id}").json()
    assert tx["owner"] == harness.owner
    created = harness.result(tx_id).journal[0]
    assert (created.kind, created.actor) == ("created", "api-key:myapp")


def test_authenticating_a_recently_used_key_costs_one_query(api, harness):
    assert api.get(STEP_TYPES).status_code == 200
    with CaptureQueriesContext(connection) as queries:
        assert api.get(STEP_TYPES).status_code == 200
    assert len(queries) == 1
    assert "key_hash" in queries[0]["sql"]


def test_last_used_at_is_written_at_most_once_a_minute(api, harness):
    assert api.api_key.last_used_at is None
    api.get(STEP_TYPES)
    first = ApiKey.objects.get(pk=api.api_key.pk).last_used_at
    assert first == harness.now()
    harness.clock.move_to(first + timedelta(seconds=59))
    api.get(STEP_TYPES)
    assert ApiKey.objects.get(pk=api.api_key.pk).last_used_at == first
    harness.advance("PT2S")
    api.get(STEP_TYPES)
    assert ApiKey.objects.get(pk=api.api_key.pk).last_used_at == harness.now()


def test_health_and_callbacks_need_no_key(anon, api):
    assert anon.get("/api/v1/health").status_code == 200
    assert anon.get("/api/v1/callbacks/no-such-token").json()["code"] == "not_found"


def test_an_invalid_key_on_an_endpoint_that_needs_none_is_ignored(db):
    assert client_with("Bearer wrong").get("/api/v1/health").status_code == 200
