"""The Switches page: the switches sleeping transactions wait on, grouped with counts, and the owners'
global switches, which an operator may set or clear here (waking everything that waits on one)."""
import json

from django.contrib import messages
from django.http import Http404
from django.urls import reverse
from django.views.generic import TemplateView

from engine.errors import DatpError
from engine.selectors import owner_names
from engine.selectors.sleeping import global_switch_rows, switch_wait_groups
from engine.services.switches import global_switch_set
from engine.states import SwitchScope
from monitoring.views.action_helpers import back, failed, parse_switch_value, reason_of, with_query
from monitoring.views.base import ConsoleMixin, ConsoleView


class SwitchListView(ConsoleMixin, TemplateView):
    template_name = "monitoring/switches_list.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        groups = switch_wait_groups(owners=self.scope.owners)
        for group in groups:
            name, owner = group["switch"], group["owner_id"]
            group["list_url"] = with_query(reverse("mondat:transactions"), status="sleeping", switch=name, owner=owner)
            if group["scope"] == SwitchScope.TRANSACTION:
                group["bulk_set_url"] = with_query(reverse("mondat:bulk", args=["set_switch"]), status="sleeping",
                                                   switch=name, owner=owner, name=name)
        context.update(groups=groups, global_switches=global_switch_rows(owners=self.scope.owners),
                       owners=owner_names(owners=self.scope.owners))
        return context


class GlobalSwitchSetView(ConsoleView):
    """POST: set (or, with `clear`, clear) one owner's global switch (operator+), with an optional reason."""

    def post(self, request):
        owner = request.POST.get("owner", "")
        if not self.scope.sees_owner(owner) or owner not in owner_names(owners=self.scope.owners):
            raise Http404("No such owner.")
        name = request.POST.get("name", "").strip()
        value = None if "clear" in request.POST else parse_switch_value(request.POST.get("value", ""))
        default = reverse("mondat:switches")
        try:
            result = global_switch_set(owner=owner, name=name, value=value, actor=self.scope.actor,
                                       channel="console", reason=reason_of(request))
        except DatpError as error:
            return failed(request, error, default)
        verb = "cleared" if value is None else f"set to {json.dumps(value)}"
        if result["action"] == "unchanged":
            messages.info(request, f"Global switch {name} of {owner} was already {json.dumps(value)}.")
        else:
            messages.success(request, f"Global switch {name} of {owner} {verb}: woke {result['woken']} "
                                      f"transaction{'' if result['woken'] == 1 else 's'}.")
        return back(request, default)
