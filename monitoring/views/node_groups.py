"""The node groups page: each group's nodes, its queue, running and sleeping counts over the user's
owners and its throughput; system users pause, resume and set the concurrency limit."""
import logging

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect
from django.views.generic import TemplateView

from engine import clock
from engine.errors import NotFound
from engine.selectors.dashboard import node_group_overview
from engine.services.pipelines import node_group_update
from monitoring.views.action_helpers import reason_of
from monitoring.views.base import ConsoleMixin

logger = logging.getLogger("monitoring.actions")
LIMIT_MAX = 2**31 - 1


class NodeGroupListView(ConsoleMixin, TemplateView):
    """GET lists the groups; POST (system users only) changes one: `action` pause, resume or limit."""

    template_name = "monitoring/node_group_list.html"
    post_role = "system"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        now = clock.now()
        context.update(groups=node_group_overview(owners=self.scope.owners, now=now), now=now)
        return context

    def post(self, request):
        name = request.POST.get("group", "")
        action = request.POST.get("action", "")
        if action == "pause":
            changes = {"paused": True}
        elif action == "resume":
            changes = {"paused": False}
        elif action == "limit":
            changes = _limit(request.POST.get("max_concurrency", ""))
            if changes is None:
                messages.error(request, f"Max concurrency must be a whole number from 1 to {LIMIT_MAX}, "
                                        "or empty for no limit.")
                return redirect("mondat:node-groups")
        else:
            messages.error(request, "Unknown action.")
            return redirect("mondat:node-groups")
        try:
            group = node_group_update(name=name, **changes)
        except NotFound as exc:
            raise Http404(str(exc)) from exc
        # Node groups have no journal (the journal is per transaction): the change is logged with its user.
        logger.info("node group %s: %s %s by %s; reason: %s", group.name, action, changes, self.scope.actor,
                    reason_of(request))
        messages.success(request, _said(group, action))
        return redirect("mondat:node-groups")


def _limit(text):
    """{"max_concurrency": n or None} from the form field, or None when it is not a valid limit."""
    text = text.strip()
    if not text:
        return {"max_concurrency": None}
    if not text.isdigit() or not 1 <= int(text) <= LIMIT_MAX:
        return None
    return {"max_concurrency": int(text)}


def _said(group, action):
    if action == "pause":
        return f"Paused {group.name}: its nodes claim nothing more; running steps finish."
    if action == "resume":
        return f"Resumed {group.name}."
    limit = group.max_concurrency
    return f"{group.name}: max concurrency {limit}." if limit else f"{group.name}: no concurrency limit."
