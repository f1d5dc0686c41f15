"""Callbacks, reached by token alone: the token is the credential, so no API key is asked for."""
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from engine.api import schema
from engine.api.inputs import Fields, json_body
from engine.services import callbacks


def public(callback):
    """What the holder of a token sees of its callback."""
    return {key: callback[key] for key in ("name", "status", "data", "updated_at")}


class TokenApi(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]


class CallbackUpdateApi(TokenApi):
    """POST /callbacks/{token} with `{"status", "data"}`."""

    @extend_schema(operation_id="callback_update", request=schema.CALLBACK_BODY, auth=[],
                   responses=schema.responses("CallbackResult", auth=False, conflict=True, body=True))
    def post(self, request, token):
        fields = Fields(json_body(request))
        status = fields.string("status", required=True)
        data = fields.raw("data")
        fields.done()
        result = callbacks.callback_update(token=token, status=status, data=data)
        return Response({"callback": public(result["callback"]), "action": result["action"]})


class CallbackGetApi(TokenApi):
    """GET /callbacks/{token}."""

    @extend_schema(operation_id="callback_get", auth=[], responses=schema.responses("CallbackGet", auth=False))
    def get(self, request, token):
        return Response({"callback": public(callbacks.callback_get(token=token))})
