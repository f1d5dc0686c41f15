"""Who is calling: `Authorization: Bearer <api key>` resolved to a Principal (owner, actor, system).

Views read `request.user` (a Principal) and `request.auth` (the ApiKey, or None for a console
session). A console user logged in to MONDAT may use the API too (with Django's CSRF check on writes):
they act for one of their owners (named by the `X-DATP-Owner` header, else their only or first one),
with their console role.
"""
from dataclasses import dataclass

from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, SessionAuthentication, get_authorization_header

from engine import clock
from engine.access import user_scope
from engine.selectors import owner_exists
from engine.services.owners import api_key_authenticate, api_key_touch

SCHEME = b"bearer"


@dataclass(frozen=True)
class Principal:
    """The caller as the API sees it: the owner it acts for, its journal actor, and its rights."""

    owner: str
    actor: str
    is_system: bool = False
    # The console role it acts with: "viewer" may only read; API keys act as "operator" (or "system").
    role: str = "operator"

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
        key = api_key_authenticate(raw=raw)
        if key is None:
            raise exceptions.AuthenticationFailed("The API key is not valid.")
        api_key_touch(key=key, now=clock.now())
        principal = Principal(owner=key.owner_id, actor=f"api-key:{key.name}", is_system=key.is_system,
                              role="system" if key.is_system else "operator")
        return principal, key

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


OWNER_HEADER = "HTTP_X_DATP_OWNER"


class ConsoleSessionAuthentication(SessionAuthentication):
    """Authenticate a logged-in console user by their Django session, with their role and owners."""

    def authenticate(self, request):
        user = getattr(request._request, "user", None)
        if user is None or not user.is_authenticated or not user.is_active:
            return None
        scope = user_scope(user)
        if scope.role is None:
            raise exceptions.PermissionDenied("This account has no console role.")
        self.enforce_csrf(request)
        return Principal(owner=_session_owner(request, scope), actor=scope.actor, is_system=scope.is_system,
                         role=scope.role), None


def _session_owner(request, scope):
    """The owner a console user acts for: the X-DATP-Owner header if in scope, else their only or first."""
    wanted = request.META.get(OWNER_HEADER, "").strip()
    if wanted:
        if scope.owners is None:
            if owner_exists(name=wanted):
                return wanted
        elif wanted in scope.owners:
            return wanted
        raise exceptions.PermissionDenied("You are not a member of the owner named in X-DATP-Owner.")
    if scope.owners:
        return scope.owners[0]
    raise exceptions.PermissionDenied("This account belongs to no owner: name one in the X-DATP-Owner header.")
