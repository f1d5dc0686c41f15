"""DATP's API keeps its own DRF classes whatever REST_FRAMEWORK a host project sets for its own API
(engine/api/base.py; issue 17): keys, JSON, DATP's error shape, no throttling of the host's."""
import pytest
from django.test import override_settings

from tests.api.conftest import start

HOST_API = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.BasicAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAdminUser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.BrowsableAPIRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.FormParser"],
    "DEFAULT_THROTTLE_CLASSES": ["rest_framework.throttling.AnonRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"anon": "0/hour"},
    "EXCEPTION_HANDLER": "rest_framework.views.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",  # the one entry DATP needs (datp.E014)
}


@pytest.fixture
def host_api():
    with override_settings(REST_FRAMEWORK=HOST_API):
        yield


def test_a_key_starts_and_reads_a_transaction_under_the_hosts_drf_defaults(api, host_api):
    tx_id = start(api)
    response = api.get(f"/api/v1/transactions/{tx_id}")
    assert (response.status_code, response["Content-Type"]) == (200, "application/json")
    assert response.json()["tx_id"] == tx_id


def test_errors_keep_datps_shape_and_challenge_under_the_hosts_drf_defaults(anon, api, host_api):
    response = anon.get("/api/v1/transactions")
    assert response.status_code == 401 and response["WWW-Authenticate"].startswith("Bearer")
    assert response.json()["code"] == "not_authenticated"
    response = api.post("/api/v1/transactions", {"transaction_type": "nope"}, format="json")
    assert response.status_code in (400, 404) and set(response.json()) == {"code", "message", "extra"}
    assert anon.get("/api/v1/health").status_code == 200  # the host's anonymous throttle is not DATP's
