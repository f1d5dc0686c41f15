"""Who may change the installation: pipelines and node groups belong to no owner."""
from rest_framework.permissions import IsAuthenticated


class IsSystem(IsAuthenticated):
    """System credentials only (an API key created with `--system`, or a console user with the system role)."""

    message = "Only system credentials may change pipelines and node groups."

    def has_permission(self, request, view):
        return super().has_permission(request, view) and bool(getattr(request.user, "is_system", False))
