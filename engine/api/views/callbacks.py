"""Callbacks, reached by token: the token is the credential, so no API key is asked for, unless
DATP_CALLBACK_REQUIRES_KEY binds it to its owner's keys as well."""
from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import NotAuthenticated
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from engine.api.base import ApiView

from engine import conf
from engine.api import schema
from engine.api.authentication import ApiKeyAuthentication
from engine.api.inputs import Fields, json_body
from engine.services import callbacks


def public(callback):
    """What the holder of a token sees of its callback."""
    return {key: callback[key] for key in ("name", "status", "data", "updated_at")}


class TokenApi(ApiView):
    permission_classes = [AllowAny]

    def get_authenticators(self):
        return [ApiKeyAuthentication()] if conf.get("CALLBACK_REQUIRES_KEY") else []

    def key_owner(self, request):
        """The owner whose key must come with the token, or None when the token alone is enough."""
        if not conf.get("CALLBACK_REQUIRES_KEY"):
            return None
        if request.auth is None:
            raise NotAuthenticated("This server requires an API key of the callback's owner with its token.")
        return request.user.owner


class CallbackUpdateApi(TokenApi):
    """POST /callbacks/{token} with `{"status", "data"}`."""

    @extend_schema(operation_id="callback_update", request=schema.CALLBACK_BODY, auth=[],
                   responses=schema.responses("CallbackResult", auth=False, conflict=True, body=True))
    def post(self, request, token):
        owner = self.key_owner(request)
        fields = Fields(json_body(request))
        status = fields.string("status", required=True)
        data = fields.raw("data")
        fields.done()
        result = callbacks.callback_update(token=token, status=status, data=data, owner=owner)
        return Response({"callback": public(result["callback"]), "action": result["action"]})


class CallbackGetApi(TokenApi):
    """GET /callbacks/{token}."""

    @extend_schema(operation_id="callback_get", auth=[], responses=schema.responses("CallbackGet", auth=False))
    def get(self, request, token):
        return Response({"callback": public(callbacks.callback_get(token=token, owner=self.key_owner(request)))})
