"""The OpenAPI document (/api/schema/): served without a key, complete, and valid OpenAPI 3."""
import json
import re

import pytest
import yaml
from django.urls import URLPattern
from drf_spectacular.validation import validate_schema
from openapi_spec_validator import validate as validate_spec
from rest_framework.test import APIClient

from engine.api import urls as api_urls


def documented_routes(document):
    """{(path, METHOD)} of the document."""
    return {(path, method.upper()) for path, operations in document["paths"].items()
            for method in operations if method in {"get", "post", "put", "patch", "delete"}}


def coded_routes():
    """{(path, METHOD)} of engine/api/urls.py, in OpenAPI's `{param}` spelling."""
    found = set()
    for pattern in api_urls.urlpatterns:
        assert isinstance(pattern, URLPattern)
        path = "/api/v1/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", str(pattern.pattern))
        handlers = getattr(pattern.callback, "handlers", None)
        if handlers:
            methods = {method for method in handlers if method != "HEAD"}
        else:
            methods = {method.upper() for method in pattern.callback.cls().allowed_methods} - {"OPTIONS", "HEAD"}
        found.update((path, method) for method in methods)
    return found


@pytest.fixture
def document(db):
    response = APIClient().get("/api/schema/?format=json")
    assert response.status_code == 200
    return json.loads(response.content)


@pytest.mark.django_db
def test_schema_is_served_as_json_without_a_key():
    response = APIClient().get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert json.loads(response.content)["info"]["title"] == "DATP API"


@pytest.mark.django_db
def test_schema_is_served_as_yaml_by_default():
    response = APIClient().get("/api/schema/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.oai.openapi;")  # the YAML media type
    assert yaml.safe_load(response.content)["openapi"].startswith("3.")


@pytest.mark.django_db
def test_swagger_ui_is_served_from_local_static_files_with_its_script_apart():
    response = APIClient().get("/api/docs/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "swagger-ui" in page and '<script src="/api/docs/?script="></script>' in page
    assert "<script>" not in page and "<style>" not in page
    assert "cdn.jsdelivr.net" not in page and "unpkg.com" not in page
    script = APIClient().get("/api/docs/?script=")
    assert script.status_code == 200 and script["Content-Type"].startswith("application/javascript")
    assert "/api/schema/" in script.content.decode()


def test_schema_lists_every_route_of_the_api(document):
    assert documented_routes(document) == coded_routes()
    assert len(documented_routes(document)) == 40


def test_schema_is_valid_openapi_3(document):
    validate_schema(document)  # drf-spectacular's own OpenAPI 3.0 JSON schema
    validate_spec(document)  # openapi-spec-validator, $refs resolved


def test_every_operation_has_a_unique_operation_id(document):
    ids = [operation["operationId"] for operations in document["paths"].values()
           for operation in operations.values() if isinstance(operation, dict) and "operationId" in operation]
    assert len(ids) == len(set(ids)) == 40


def test_every_error_response_has_the_error_shape(document):
    error = {"$ref": "#/components/schemas/Error"}
    assert document["components"]["schemas"]["Error"]["required"] == ["code", "message", "extra"]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if path.endswith("/health"):
                    continue
                if int(status) >= 400:
                    assert response["content"]["application/json"]["schema"] == error, (method, path, status)


def test_keyed_operations_require_the_bearer_scheme_and_token_ones_do_not(document):
    assert document["components"]["securitySchemes"]["ApiKey"] == {
        "type": "http", "scheme": "bearer", "description": "An API key: `Authorization: Bearer <key>`."}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            public = path.startswith("/api/v1/callbacks/") or path == "/api/v1/health"
            assert ("security" not in operation) == public, (method, path)
            if not public:
                assert operation["security"] == [{"ApiKey": []}]
                assert "401" in operation["responses"]


def test_start_documents_its_body_and_both_success_statuses(document):
    start = document["paths"]["/api/v1/transactions"]["post"]
    body = start["requestBody"]["content"]["application/json"]["schema"]
    assert body["required"] == ["transaction_type"]
    assert {"201", "200", "409", "413", "415"} <= set(start["responses"])


def schema_of(operation, status):
    return operation["responses"][status]["content"]["application/json"]["schema"]


def test_rewind_and_version_moves_document_their_bodies_and_replies(document):
    paths = document["paths"]
    rewind = paths["/api/v1/transactions/{tx_id}/rewind"]["post"]
    assert rewind["operationId"] == "transaction_rewind"
    body = rewind["requestBody"]["content"]["application/json"]["schema"]
    assert body["required"] == ["to_step"]
    assert set(body["properties"]) == {"to_step", "data", "version", "reason", "deadline", "webhook_again"}
    assert schema_of(rewind, "200") == {"$ref": "#/components/schemas/Transaction"} and "409" in rewind["responses"]
    move = paths["/api/v1/pipelines/{name}/versions/{version}/move"]["post"]
    assert move["operationId"] == "pipeline_version_move"
    body = move["requestBody"]["content"]["application/json"]["schema"]
    assert "required" not in body and set(body["properties"]) == {"to_version", "dry_run", "reason", "limit"}
    assert schema_of(move, "200") == {"$ref": "#/components/schemas/VersionMovePreview"}
    assert schema_of(move, "202") == {"$ref": "#/components/schemas/VersionMoveJob"}
    job = paths["/api/v1/pipelines/{name}/moves/{job_id}"]["get"]
    assert job["operationId"] == "pipeline_version_move_get" and "403" in job["responses"]
    assert schema_of(job, "200") == {"$ref": "#/components/schemas/VersionMoveJob"}
    assert set(document["components"]["schemas"]["VersionMoveJob"]["properties"]) == {
        "id", "action", "status", "total", "done", "skipped", "created_at", "started_at", "finished_at", "error"}
