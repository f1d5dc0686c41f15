"""Guards in front of every /api/ request: refuse an oversized body before anything reads it, a path or
query string holding what no database can store, and turn any exception that escapes a view into the
JSON error shape (even with DEBUG on)."""
from engine import conf
from engine.api.exceptions import error_response, exception_response, is_api_path
from engine.api.parsers import UNSTORABLE, PayloadTooLarge, storable


def content_length(request):
    """The declared body length; None when it is missing or not a number."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None
    return length if length >= 0 else None


def _unstorable_input(request):
    """An error for a path (404: no object is named so) or query parameters (400, each named) holding a
    NUL or a lone surrogate, which PostgreSQL would refuse mid-query; None when there is none."""
    if not storable(request.path_info):
        return error_response("not_found", "Not found.", 404)
    bad = sorted({name if storable(name) else "query" for name, values in request.GET.lists()
                  if not (storable(name) and all(map(storable, values)))})
    if bad:
        return error_response("invalid_request", "The request has invalid fields.", 400,
                              {"fields": {name: [UNSTORABLE] for name in bad}})
    return None


class ApiMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if is_api_path(request):
            length = content_length(request)
            if length is None:
                return error_response("invalid_request", "The Content-Length header is not valid.", 400)
            limit = conf.get("MAX_PAYLOAD_BYTES")
            if length > limit:
                return exception_response(request, PayloadTooLarge(max_bytes=limit))
            refused = _unstorable_input(request)
            if refused is not None:
                return refused
        return self.get_response(request)

    def process_exception(self, request, exception):
        if is_api_path(request):
            return exception_response(request, exception)
        return None
