"""Who is calling: `Authorization: Bearer <api key>` resolved to a Principal (owner, actor, system).

Views read `request.user` (a Principal) and `request.auth` (the ApiKey, or None for other
credentials). Another scheme, such as console sessions, is one more class in
REST_FRAMEWORK["DEFAULT_AUTHENTICATION_CLASSES"] that returns a Principal too.
"""
from dataclasses import dataclass

from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from engine import clock
from engine.services.owners import api_key_authenticate, api_key_touch

SCHEME = b"bearer"


@dataclass(frozen=True)
class Principal:
    """The caller as the API sees it: the owner it acts for, its journal actor, and its rights."""

    owner: str
    actor: str
    is_system: bool = False

    # DRF's IsAuthenticated and Django's templates ask for this.
    is_authenticated = True
    is_anonymous = False


class ApiKeyAuthentication(BaseAuthentication):
    """Authenticate by API key: one indexed lookup of the key's SHA-256."""

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != SCHEME:
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("The Authorization header must be 'Bearer <api key>'.")
        try:
            raw = parts[1].decode("ascii")
        except UnicodeDecodeError as exc:
            raise exceptions.AuthenticationFailed("The API key is not valid.") from exc
        key = api_key_authenticate(raw)
        if key is None:
            raise exceptions.AuthenticationFailed("The API key is not valid.")
        api_key_touch(key=key, now=clock.now())
        return Principal(owner=key.owner_id, actor=f"api-key:{key.name}", is_system=key.is_system), key

    def authenticate_header(self, request):
        return 'Bearer realm="api"'
