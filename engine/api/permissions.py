"""Who may do what through the API: viewers only read; pipelines and node groups belong to no owner."""
from rest_framework.permissions import SAFE_METHODS, IsAuthenticated

from engine.access import role_rank


class RoleAllowsWrites(IsAuthenticated):
    """Reads for every authenticated caller; writes need the operator role (API keys have it)."""

    message = "Your role may only read."

    def has_permission(self, request, view):
        if not super().has_permission(request, view):
            return False
        return request.method in SAFE_METHODS or role_rank(getattr(request.user, "role", None)) >= role_rank("operator")


class IsSystem(IsAuthenticated):
    """System credentials only (an API key created with `--system`, or a console user with the system role)."""

    message = "Only system credentials may change pipelines and node groups."

    def has_permission(self, request, view):
        return super().has_permission(request, view) and bool(getattr(request.user, "is_system", False))
