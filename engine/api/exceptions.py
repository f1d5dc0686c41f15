"""Every API error in one JSON shape, `{"code", "message", "extra"}`: the DRF exception handler, and
Django's error views for `/api/` paths (which otherwise would render HTML)."""
import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from django.views import defaults
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import set_rollback

from engine.errors import DatpError

logger = logging.getLogger(__name__)

API_PREFIX = "/api/"


# DRF exception class -> (code, HTTP status) of spec/api.md; any other APIException keeps its own.
_DRF_CODES = [
    (exceptions.ParseError, "invalid_json", 400),
    (exceptions.NotAuthenticated, "not_authenticated", 401),
    (exceptions.AuthenticationFailed, "not_authenticated", 401),
    (exceptions.PermissionDenied, "permission_denied", 403),
    (exceptions.NotFound, "not_found", 404),
    (exceptions.MethodNotAllowed, "method_not_allowed", 405),
    (exceptions.UnsupportedMediaType, "unsupported_media_type", 415),
    (exceptions.ValidationError, "invalid_request", 400),
]


def error_body(code, message, extra=None):
    return {"code": code, "message": message, "extra": extra or {}}


def error_response(code, message, http_status, extra=None, headers=None):
    """A JSON error for code outside DRF views (middleware, Django's error views)."""
    response = JsonResponse(error_body(code, message, extra), status=http_status)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def is_api_path(request):
    return request.path_info.startswith(API_PREFIX)


def _fields(detail):
    if isinstance(detail, dict):
        return detail
    return {"non_field_errors": detail if isinstance(detail, list) else [detail]}


def _drf_error(exc):
    """Return (code, status, message, extra, headers) for a DRF APIException."""
    headers = {}
    for cls, code, http_status in _DRF_CODES:
        if isinstance(exc, cls):
            break
    else:
        code, http_status = exc.default_code, exc.status_code
    if http_status == 401:
        headers["WWW-Authenticate"] = getattr(exc, "auth_header", None) or 'Bearer realm="api"'
    if getattr(exc, "wait", None):
        headers["Retry-After"] = "%d" % exc.wait
    if isinstance(exc, exceptions.ValidationError):
        return code, http_status, "The request has invalid fields.", {"fields": _fields(exc.detail)}, headers
    message = str(exc.detail) if not isinstance(exc.detail, list | dict) else str(exc.default_detail)
    if isinstance(exc, exceptions.UnsupportedMediaType):
        message = "The request body must be JSON (Content-Type: application/json)."
    return code, http_status, message, dict(getattr(exc, "extra", {})), headers


def _classify(exc):
    """Return (code, status, message, extra, headers), or None for an exception nobody expected."""
    if isinstance(exc, DatpError):
        return exc.code, exc.http_status, exc.message, exc.extra, {}
    if isinstance(exc, Http404):
        return "not_found", 404, "Not found.", {}, {}
    if isinstance(exc, DjangoPermissionDenied):
        return "permission_denied", 403, "You may not do this.", {}, {}
    if isinstance(exc, DjangoValidationError):
        fields = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        return "invalid_request", 400, "The request has invalid fields.", {"fields": fields}, {}
    if isinstance(exc, RequestDataTooBig):
        return "payload_too_large", 413, "The request body is too large.", {}, {}  # Django's own body limit
    if isinstance(exc, exceptions.APIException):
        return _drf_error(exc)
    return None


def exception_handler(exc, context):
    """REST_FRAMEWORK["EXCEPTION_HANDLER"]: every exception of a view becomes the JSON error shape."""
    found = _classify(exc)
    set_rollback()
    if found is None:
        view = context.get("view")
        logger.exception("Unhandled error in %s", type(view).__name__ if view else "an API view", exc_info=exc)
        return Response(error_body("internal_error", "An internal error occurred."), status=500)
    code, http_status, message, extra, headers = found
    return Response(error_body(code, message, extra), status=http_status, headers=headers)


def exception_response(request, exc):
    """The JSON error for an exception raised outside a DRF view under /api/ (see ApiMiddleware)."""
    found = _classify(exc)
    if found is None:
        logger.exception("Unhandled error on %s", request.path_info, exc_info=exc)
        return error_response("internal_error", "An internal error occurred.", 500)
    code, http_status, message, extra, headers = found
    return error_response(code, message, http_status, extra, headers)


@csrf_exempt  # a POST to an unknown URL is a JSON 404, not Django's HTML CSRF page
def route_not_found(request, *args, **kwargs):
    """The view behind every unknown URL under /api/."""
    return error_response("not_found", "No such API endpoint.", 404)


def bad_request(request, exception, template_name=defaults.ERROR_400_TEMPLATE_NAME):
    if is_api_path(request):
        return error_response("invalid_request", "The request is not valid.", 400)
    return defaults.bad_request(request, exception, template_name)


def permission_denied(request, exception, template_name=defaults.ERROR_403_TEMPLATE_NAME):
    if is_api_path(request):
        return error_response("permission_denied", "You may not do this.", 403)
    return defaults.permission_denied(request, exception, template_name)


def page_not_found(request, exception, template_name=defaults.ERROR_404_TEMPLATE_NAME):
    if is_api_path(request):
        return route_not_found(request)
    return defaults.page_not_found(request, exception, template_name)


def server_error(request, template_name=defaults.ERROR_500_TEMPLATE_NAME):
    if is_api_path(request):
        return error_response("internal_error", "An internal error occurred.", 500)
    return defaults.server_error(request, template_name)
