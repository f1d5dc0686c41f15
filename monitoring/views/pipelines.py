"""MONDAT's Pipelines pages: the list, one pipeline (flow, step figures, versions, definition), export of a
version as JSON for everyone, and for system users loading a definition and rolling back."""
import json
import logging
from datetime import timedelta

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, JsonResponse
from django.shortcuts import redirect
from django.views.generic import TemplateView

from engine import clock, conf
from engine.errors import InvalidPipeline, NotFound
from engine.selectors.pipelines_console import (
    pipeline_console_detail,
    pipeline_console_list,
    pipeline_definition_in_use,
    pipeline_version_get,
)
from engine.services.pipelines import pipeline_publish, pipeline_use_version, pipeline_validate
from monitoring.flow import pipeline_flow
from monitoring.views.base import ConsoleMixin, ConsoleView
from monitoring.views.version_moves import version_label

logger = logging.getLogger("monitoring.actions")

STATS_WINDOW = timedelta(days=1)


def _pretty(definition):
    return json.dumps(definition, indent=2, ensure_ascii=False)


class PipelineListView(ConsoleMixin, TemplateView):
    """Every pipeline with its version in use and its last day of step runs (over the user's owners)."""

    template_name = "monitoring/pipeline_list.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["pipelines"] = pipeline_console_list(owners=self.scope.owners, since=clock.now() - STATS_WINDOW)
        return context


class PipelineDetailView(ConsoleMixin, TemplateView):
    """One pipeline: its steps drawn as a flow, each step's figures, its versions and a version's definition."""

    template_name = "monitoring/pipeline_detail.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        try:
            detail = pipeline_console_detail(name=kwargs["name"], owners=self.scope.owners,
                                             since=clock.now() - STATS_WINDOW,
                                             version=self.request.GET.get("version") or None)
        except NotFound as exc:
            raise Http404(str(exc)) from exc
        shown = detail["shown"]
        steps = shown.steps if shown is not None else []
        stats = detail["stats"]
        context.update(detail)
        context["steps"] = [{"step": step, "stats": stats.get(step["name"], {})} for step in steps]
        context["flow"] = pipeline_flow(steps)
        context["definition"] = _pretty(shown.definition) if shown is not None else ""
        if self.scope.allows("operator") and len(detail["versions"]) > 1:
            context.update(self._move_picker(detail["pipeline"], detail["versions"]))
        return context

    @staticmethod
    def _move_picker(pipeline, versions):
        """The versions a move of its transactions picks from (newest first): to the one in use by default,
        from the newest other one."""
        current = pipeline.current_version_id
        return {
            "move_versions": [(v.version, version_label(v.version, in_use=v.version == current,
                                                        made=v.created_at.isoformat())) for v in versions],
            "to_version": current,
            "suggested": next((v.version for v in versions if v.version != current), ""),
        }


class PipelineLoadView(ConsoleMixin, TemplateView):
    """(System) Paste a definition: check it, or publish it as the version in use; every problem at once."""

    template_name = "monitoring/pipeline_load.html"
    post_role = "system"

    def get(self, request, *args, **kwargs):
        if not self.scope.is_system:
            raise PermissionDenied("Only system users load pipelines.")
        text = ""
        source = request.GET.get("from")
        if source:
            try:
                text = _pretty(pipeline_definition_in_use(name=source))
            except NotFound as exc:
                raise Http404(str(exc)) from exc
        return self.render_to_response(self.get_context_data(text=text))

    def post(self, request, *args, **kwargs):
        text = request.POST.get("definition", "")
        action = request.POST.get("action", "check")
        errors, checked = [], None
        if len(text.encode()) > conf.get("MAX_PAYLOAD_BYTES"):
            errors = [f"(root): the definition is larger than {conf.get('MAX_PAYLOAD_BYTES')} bytes"]
        else:
            try:
                definition = json.loads(text)
            except ValueError as exc:
                errors = [f"(root): not valid JSON: {exc}"]
            else:
                try:
                    if action == "publish":
                        return self._publish(definition)
                    checked = pipeline_validate(definition=definition)
                except InvalidPipeline as exc:
                    errors = exc.errors
        return self.render_to_response(self.get_context_data(text=text, errors=errors, checked=checked),
                                       status=400 if errors else 200)

    def _publish(self, definition):
        version, created = pipeline_publish(definition=definition, create_node_group=False)
        logger.info("pipeline %s version %s published by %s (new: %s)", version.pipeline_id, version.version,
                    self.scope.actor, created)
        if created:
            messages.success(self.request, f"Published version {version.version[:12]} of {version.pipeline_id}; "
                                           "it is now the one in use.")
        else:
            messages.info(self.request, f"This definition is version {version.version[:12]}, which already "
                                        "existed; it is the one in use.")
        return redirect("mondat:pipeline", name=version.pipeline_id)


class PipelineUseVersionView(ConsoleView):
    """(System) Make an earlier version the one in use: a rollback; started transactions keep their own."""

    post_role = "system"
    http_method_names = ["post"]

    def post(self, request, name, version):
        try:
            found = pipeline_use_version(name=name, version=version)
        except NotFound as exc:
            raise Http404(str(exc)) from exc
        logger.info("pipeline %s rolled to version %s by %s", name, version, self.scope.actor)
        messages.success(request, f"Version {found.version[:12]} of {name} is now the one in use.")
        return redirect("mondat:pipeline", name=name)


class PipelineVersionExportView(ConsoleView):
    """A version's definition as a JSON download (everyone may export)."""

    http_method_names = ["get"]

    def get(self, request, name, version):
        try:
            found = pipeline_version_get(name=name, version=version)
        except NotFound as exc:
            raise Http404(str(exc)) from exc
        response = JsonResponse(found.definition, json_dumps_params={"indent": 2, "ensure_ascii": False})
        response["Content-Disposition"] = f'attachment; filename="{found.pipeline_id}-{found.version[:12]}.json"'
        return response
