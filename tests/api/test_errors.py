"""The one error shape of spec/api.md at the edges: bodies that are too large, not JSON, or not objects;
unknown routes and methods; unexpected exceptions; never an HTML page, whatever the Accept header."""
import io
import json

import pytest
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.test import RequestFactory
from rest_framework import exceptions as drf

from engine.api import exceptions as api_exceptions
from engine.api.middleware import ApiMiddleware
from engine.api.parsers import JsonParser, PayloadTooLarge
from engine.errors import DuplicateExternalId, NotRetryable

START = "/api/v1/transactions"


def assert_error(response, status, code):
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"code", "message", "extra"}
    assert body["code"] == code
    assert isinstance(body["message"], str) and body["message"]
    return body


@pytest.fixture
def small_payloads(settings):
    settings.DATP = {**settings.DATP, "MAX_PAYLOAD_BYTES": 200}


def test_a_body_over_the_limit_is_refused_with_413_before_it_is_parsed(api, small_payloads):
    body = json.dumps({"transaction_type": "echo", "data": {"pad": "x" * 300}})
    body = assert_error(api.post(START, body, content_type="application/json"), 413, "payload_too_large")
    assert body["extra"] == {"max_bytes": 200}


def test_an_oversized_body_is_refused_even_without_a_key_and_even_if_not_json(anon, small_payloads):
    response = anon.post(START, "x" * 500, content_type="text/plain")
    assert_error(response, 413, "payload_too_large")


def test_a_body_at_the_limit_is_accepted(api, small_payloads):
    body = json.dumps({"transaction_type": "echo", "data": {}})
    body += " " * (200 - len(body))
    assert api.post(START, body, content_type="application/json").status_code == 201


def test_the_parser_stops_reading_past_the_limit_whatever_content_length_claimed(settings):
    settings.DATP = {**settings.DATP, "MAX_PAYLOAD_BYTES": 10}
    stream = io.BytesIO(b'{"a": "' + b"x" * 10_000 + b'"}')
    with pytest.raises(PayloadTooLarge):
        JsonParser().parse(stream)
    assert stream.tell() == 11


def test_a_content_length_that_is_not_a_number_is_a_400(api):
    response = api.generic("POST", START, "{}", content_type="application/json", CONTENT_LENGTH="lots")
    assert_error(response, 400, "invalid_request")


@pytest.mark.parametrize("content_type, body", [
    ("application/x-www-form-urlencoded", "transaction_type=echo"),
    ("text/plain", '{"transaction_type": "echo"}'),
    ("multipart/form-data; boundary=xx", '--xx\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--xx--\r\n'),
    ("", '{"transaction_type": "echo"}'),
])
def test_bodies_that_are_not_json_get_415(api, content_type, body):
    assert_error(api.generic("POST", START, body, content_type=content_type), 415, "unsupported_media_type")


@pytest.mark.parametrize("body", [
    "{bad", '{"transaction_type": "echo",}', '{"data": NaN}', '{"data": Infinity}', b"\xff\xfe{}",
    "[" * 100_000 + "]" * 100_000,
])
def test_malformed_json_is_invalid_json(api, body):
    assert_error(api.post(START, body, content_type="application/json"), 400, "invalid_json")


@pytest.mark.parametrize("body", ["[]", "null", "17", '"echo"'])
def test_a_body_that_is_not_an_object_is_invalid_request(api, body):
    found = assert_error(api.post(START, body, content_type="application/json"), 400, "invalid_request")
    assert "body" in found["extra"]["fields"]


@pytest.mark.parametrize("text", ["nul\\u0000here", "lone \\ud800 surrogate"])
def test_strings_no_database_can_store_are_refused_not_a_500(api, text):
    body = '{"transaction_type": "echo", "data": {"s": "%s"}}' % text
    found = assert_error(api.post(START, body, content_type="application/json"), 400, "invalid_request")
    assert list(found["extra"]["fields"]) == ["data"]


@pytest.mark.parametrize("method", ["get", "post", "put", "delete"])
@pytest.mark.parametrize("path", ["/api/v1/nope", "/api/v2/transactions", "/api/", "/api/v1/transactions/"])
def test_unknown_routes_under_api_are_a_json_404(api, method, path):
    response = getattr(api, method)(path, HTTP_ACCEPT="text/html")
    assert_error(response, 404, "not_found")


def test_unknown_routes_need_no_key_to_be_told_apart(anon):
    assert_error(anon.get("/api/v1/nope"), 404, "not_found")


def test_a_method_a_route_does_not_serve_is_405_with_allow(api):
    tx_id = api.post(START, {"transaction_type": "echo"}, format="json").json()["tx_id"]
    response = api.delete(f"/api/v1/transactions/{tx_id}")
    assert_error(response, 405, "method_not_allowed")
    assert "GET" in response["Allow"] and "DELETE" not in response["Allow"]
    assert_error(api.put(START, {}, format="json"), 405, "method_not_allowed")
    assert_error(api.post("/api/v1/step-types", {}, format="json"), 405, "method_not_allowed")
    assert api.put(f"/api/v1/transactions/{tx_id}/switches/x", {"value": 1}, format="json").status_code == 200
    assert_error(api.post(f"/api/v1/transactions/{tx_id}/switches/x", {}, format="json"), 405, "method_not_allowed")


def test_an_html_accept_header_still_gets_json_on_success_and_on_error(api):
    response = api.get("/api/v1/health", HTTP_ACCEPT="text/html")
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    assert_error(api.get("/api/v1/transactions/tx-missing", HTTP_ACCEPT="text/html"), 404, "not_found")
    assert_error(api.post(START, "{", content_type="application/json", HTTP_ACCEPT="text/html"), 400, "invalid_json")


def test_an_unexpected_exception_in_a_view_is_logged_and_becomes_a_json_500(api, monkeypatch, caplog):
    def explode(**kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("engine.api.views.transactions.transaction_get", explode)
    with caplog.at_level("ERROR", logger="engine.api.exceptions"):
        body = assert_error(api.get("/api/v1/transactions/tx-x"), 500, "internal_error")
    assert "disk on fire" not in json.dumps(body)
    assert any(record.exc_info and record.exc_info[0] is RuntimeError for record in caplog.records)


def test_an_exception_escaping_outside_drf_becomes_json_under_api_only(rf):
    middleware = ApiMiddleware(lambda request: None)
    response = middleware.process_exception(rf.get("/api/v1/x"), RuntimeError("boom"))
    assert response.status_code == 500
    assert json.loads(response.content)["code"] == "internal_error"
    assert middleware.process_exception(rf.get("/admin/x"), RuntimeError("boom")) is None


@pytest.mark.parametrize("exc, status, code, extra", [
    (drf.ValidationError({"name": ["Bad."]}), 400, "invalid_request", {"fields": {"name": ["Bad."]}}),
    (drf.ValidationError(["Bad."]), 400, "invalid_request", {"fields": {"non_field_errors": ["Bad."]}}),
    (DjangoValidationError({"name": ["Bad."]}), 400, "invalid_request", {"fields": {"name": ["Bad."]}}),
    (DjangoValidationError("Bad."), 400, "invalid_request", {"fields": {"non_field_errors": ["Bad."]}}),
    (drf.PermissionDenied(), 403, "permission_denied", {}),
    (DjangoPermissionDenied(), 403, "permission_denied", {}),
    (Http404(), 404, "not_found", {}),
    (drf.NotFound(), 404, "not_found", {}),
    (NotRetryable(), 409, "not_retryable", {}),
    (DuplicateExternalId(tx_id="tx-1"), 409, "duplicate_external_id", {"tx_id": "tx-1"}),
    (drf.Throttled(wait=3), 429, "throttled", {}),
])
def test_the_handler_gives_every_known_exception_its_status_and_code(db, exc, status, code, extra):
    response = api_exceptions.exception_handler(exc, {})
    assert response.status_code == status
    assert response.data["code"] == code and response.data["extra"] == extra
    if status == 429:
        assert response["Retry-After"] == "3"


@pytest.mark.parametrize("handler, status, code", [
    (lambda request: api_exceptions.page_not_found(request, Exception()), 404, "not_found"),
    (lambda request: api_exceptions.server_error(request), 500, "internal_error"),
    (lambda request: api_exceptions.bad_request(request, Exception()), 400, "invalid_request"),
    (lambda request: api_exceptions.permission_denied(request, Exception()), 403, "permission_denied"),
])
def test_djangos_error_views_answer_json_under_api_and_html_elsewhere(db, handler, status, code):
    factory = RequestFactory()
    response = handler(factory.get("/api/v1/anything", HTTP_ACCEPT="text/html"))
    assert response.status_code == status
    assert json.loads(response.content)["code"] == code
    response = handler(factory.get("/mondat/anything"))
    assert response.status_code == status
    assert response["Content-Type"].startswith("text/html")


def test_the_site_installs_the_json_error_views(settings):
    from datp_site import urls

    assert urls.handler404 == "engine.api.exceptions.page_not_found"
    assert urls.handler500 == "engine.api.exceptions.server_error"
