"""What every console page shares: a login, the user's Scope, role checks and owner-scoped lookups."""
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.views import View

from engine import selectors
from engine.access import user_scope
from engine.errors import NotFound


class ConsoleMixin(LoginRequiredMixin):
    """Log in first; `self.scope` is the user's Scope. A POST needs `post_role` (operator by default)."""

    post_role = "operator"

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        self.scope = user_scope(request.user)
        if self.scope.role is None:
            raise PermissionDenied("Your account has no MONDAT role.")
        if request.method == "POST" and not self.scope.allows(self.post_role):
            raise PermissionDenied("Your role may not do this.")
        return super().dispatch(request, *args, **kwargs)

    def get_tx(self, tx_id):
        """The transaction `tx_id` if its owner is in scope; another owner's is a 404 like a missing one."""
        try:
            tx = selectors.transaction_get(tx_id=tx_id)
        except NotFound as exc:
            raise Http404(str(exc)) from exc
        if not self.scope.sees_owner(tx.owner_id):
            raise Http404("No such transaction.")
        return tx

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs) if hasattr(super(), "get_context_data") else dict(kwargs)
        context["scope"] = self.scope
        context["can_operate"] = self.scope.allows("operator")
        context["can_admin"] = self.scope.allows("admin")
        context["is_system"] = self.scope.is_system
        return context


class ConsoleView(ConsoleMixin, View):
    """A plain console view."""
