"""The base of every API view: DATP's DRF classes set on the view, so a host project's REST_FRAMEWORK
defaults (its own API's) neither change DATP's API nor have to be DATP's. The one global DATP needs is
drf-spectacular's DEFAULT_SCHEMA_CLASS (its @extend_schema reads it when the views are imported; datp.E014)."""
from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView

from engine.api.authentication import ApiKeyAuthentication, ConsoleSessionAuthentication
from engine.api.exceptions import exception_handler
from engine.api.negotiation import JsonAlways
from engine.api.parsers import JsonParser
from engine.api.permissions import RoleAllowsWrites


class ApiView(APIView):
    """JSON in and out, API keys then console sessions, writes for operators, errors in DATP's shape."""

    renderer_classes = [JSONRenderer]
    parser_classes = [JsonParser]
    content_negotiation_class = JsonAlways
    # The first class answers 401 with its WWW-Authenticate header; console sessions come second.
    authentication_classes = [ApiKeyAuthentication, ConsoleSessionAuthentication]
    permission_classes = [RoleAllowsWrites]
    throttle_classes = []
    versioning_class = None

    def get_exception_handler(self):
        return exception_handler
