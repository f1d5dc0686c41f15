"""One URL served by several single-operation views, chosen by HTTP method."""
from django.views.decorators.csrf import csrf_exempt


def by_method(**views):
    """Return a view that hands each request to `views[METHOD]`.

    `by_method(GET=TransactionGetApi, PATCH=TransactionUpdateApi)` keeps one class per operation
    while both share `/transactions/{tx_id}`. Any other method goes to the first view, so it is
    authenticated and refused (405) exactly as DRF refuses it, with an `Allow` naming every method.
    """
    handlers = {method.upper(): view.as_view() for method, view in views.items()}
    if "GET" in handlers:
        handlers.setdefault("HEAD", handlers["GET"])
    fallback = next(iter(handlers.values()))
    allow = ", ".join([*handlers, "OPTIONS"])

    @csrf_exempt
    def dispatch(request, *args, **kwargs):
        handler = handlers.get(request.method)
        if handler is not None:
            return handler(request, *args, **kwargs)
        response = fallback(request, *args, **kwargs)
        if response.has_header("Allow"):
            response["Allow"] = allow
        return response

    dispatch.handlers = handlers  # engine.api.schema documents each method's view
    return dispatch
