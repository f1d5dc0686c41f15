"""Bulk actions on a filtered set: GET /mondat/bulk/<action>/?<the list's filters> counts the set and asks
for confirmation, POST does it (at once or as a background job); /mondat/bulk/jobs/<id>/ shows a job's progress."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect
from django.views.generic import TemplateView

from engine.errors import DatpError, InvalidRequest, NotFound
from engine.limits import SWITCH_TEXT_MAX
from engine.selectors import pipeline_detail
from engine.selectors.bulk import bulk_job_get
from engine.services import bulk
from engine.states import BulkAction, BulkJobStatus
from monitoring.transaction_filters import FILTER_NAMES, filter_form, filter_query
from monitoring.views.action_helpers import parse_switch_value, reason_of
from monitoring.views.base import ConsoleMixin
from monitoring.views.version_moves import default_from, move_context

TITLES = {BulkAction.WAKE: "Wake", BulkAction.RETRY: "Retry", BulkAction.CANCEL: "Cancel",
          BulkAction.SET_SWITCH: "Set a switch on", BulkAction.CLEAR_SWITCH: "Clear a switch of",
          BulkAction.MOVE_VERSION: "Move"}
# The list filters a version move's dry run takes into account; any other one narrows only the move itself.
MOVE_FILTERS = ("transaction_type", "version", "owner")


class BulkActionView(ConsoleMixin, TemplateView):
    """GET: how many transactions the action would reach and a confirmation form; POST (operator+): do it."""

    template_name = "monitoring/bulk_confirm.html"

    def dispatch(self, request, *args, **kwargs):
        if kwargs["action"] not in BulkAction.values:
            raise Http404("No such bulk action.")
        return super().dispatch(request, *args, **kwargs)

    def get(self, request, *args, **kwargs):
        form = filter_form(request.GET)
        return self.render(form, errors={}, entered={"reason": "", "name": request.GET.get("name", ""),
                                                     "value": request.GET.get("value", "")})

    def post(self, request, action):
        form = filter_form(request.GET)
        entered = {"reason": reason_of(request), "name": request.POST.get("name", "").strip(),
                   "value": request.POST.get("value", "").strip()[:SWITCH_TEXT_MAX]}
        if not form.is_valid():
            return self.render(form, errors={})
        params = {}
        if action in (BulkAction.SET_SWITCH, BulkAction.CLEAR_SWITCH):
            params["name"] = entered["name"]
        if action == BulkAction.SET_SWITCH:
            if not entered["value"]:
                return self.render(form, errors={"value": ["Give the value to set."]}, entered=entered)
            params["value"] = parse_switch_value(entered["value"])
        if action == BulkAction.MOVE_VERSION:
            params["to_version"] = request.POST.get("to_version", "").strip() or request.GET.get("to_version", "")
        try:
            job = bulk.bulk_job_create(action=action, owners=self.scope.owners, filters=form.filters(),
                                       actor=self.scope.actor, reason=entered["reason"], params=params)
        except InvalidRequest as exc:
            return self.render(form, errors=exc.extra.get("fields", {}), entered=entered)
        except DatpError as exc:  # a version move's version that the pipeline does not have
            return self.render(form, errors={exc.extra.get("field", "version"): [exc.message]}, entered=entered)
        if job.status == BulkJobStatus.DONE:
            messages.success(request, f"{TITLES[action]}: {job.done} done, {job.skipped} skipped.")
        else:
            messages.success(request, f"{TITLES[action]}: a background job will do the {job.total} transactions.")
        return redirect("mondat:bulk-job", job_id=job.pk)

    def render(self, form, *, errors, entered=None):
        action = self.kwargs["action"]
        context = self.get_context_data(form=form, action=action, title=TITLES[action], errors=errors,
                                        entered=entered or {}, preview=None,
                                        list_query=filter_query(self.request.GET),
                                        chosen=[(name, ", ".join(form.data.getlist(name)))
                                                for name in form.fields if name not in ("cursor", "limit")
                                                and any(form.data.getlist(name))])
        if form.is_valid():
            context["preview"] = bulk.bulk_preview(action=action, owners=self.scope.owners, filters=form.filters())
            if action == BulkAction.MOVE_VERSION:
                context.update(self.move(form.filters()))
        return self.render_to_response(context, status=400 if errors or not form.is_valid() else 200)

    def move(self, filters):
        """The versions to pick and the dry run of a version move of the list's one transaction type."""
        name = filters.get("transaction_type")
        if not name:
            return {"move_needs_type": True}
        try:
            pipeline = pipeline_detail(name=name)
        except NotFound:
            return {"move_error": f"There is no pipeline {name}.", "move": None}
        owners = self.scope.owners
        if filters.get("owner"):
            owners = [filters["owner"]] if owners is None or filters["owner"] in owners else []
        to_version = self.request.GET.get("to_version", "").strip() or pipeline["version"]
        from_version = filters.get("version", "")
        keep = [(field, value) for field in self.request.GET if field in FILTER_NAMES and field != "version"
                for value in self.request.GET.getlist(field)]
        return {**move_context(pipeline=pipeline, from_version=from_version, to_version=to_version, owners=owners),
                "suggested": from_version or default_from(pipeline, to_version), "keep": keep, "from_name": "version",
                "move_narrowed": any(field not in MOVE_FILTERS for field in filters)}


class BulkJobView(ConsoleMixin, TemplateView):
    """GET /mondat/bulk/jobs/<id>/: a bulk job's progress; htmx refreshes the progress part while it runs."""

    template_name = "monitoring/bulk_job.html"
    progress_template_name = "monitoring/_bulk_job_progress.html"

    def get_template_names(self):
        if self.request.headers.get("HX-Request"):
            return [self.progress_template_name]
        return [self.template_name]

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        try:
            job = bulk_job_get(job_id=kwargs["job_id"], owners=self.scope.owners)
        except NotFound as exc:
            raise Http404(str(exc)) from exc
        handled = job.done + job.skipped
        context.update(job=job, title=TITLES[job.action], handled=handled,
                       running=job.status in (BulkJobStatus.PENDING, BulkJobStatus.RUNNING),
                       percent=min(100, handled * 100 // job.total) if job.total else 100)
        return context
