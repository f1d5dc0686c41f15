"""Version moves from the console: the sleeping and queued transactions of a pipeline move from one of its versions
to another. GET /mondat/pipelines/<name>/move/?from_version=&to_version= picks the two versions and shows the dry
run (per step: counts, whether the step exists in the target, where they resume, what changes there; and the
first transactions); POST starts the bulk job (`version_move_start`, over the user's owners) and goes to its
progress page. The same dry run is what the bulk page shows for the list's "Move to another version…".

For the users allowed bulk actions (operators and above) only."""
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect
from django.views.generic import TemplateView

from engine.errors import DatpError, NotFound
from engine.selectors import pipeline_detail
from engine.services.bulk import version_move_start
from engine.services.version_moves import version_move_preview
from engine.states import BulkJobStatus
from monitoring.journal_text import short
from monitoring.views.action_helpers import reason_of
from monitoring.views.base import ConsoleMixin
from monitoring.views.transaction_actions import message_of

# The transactions the dry run lists (the counts cover them all).
PREVIEW_ROWS = 50


def version_label(version, *, in_use, made):
    """How a version is named in a choice: its short id, whether it is in use, when it was made (ISO text)."""
    marked = " (in use)" if in_use else ""
    return f"{short(version)}{marked}, made {made.replace('T', ' ')[:19]} UTC"


def move_versions(pipeline):
    """(version id, label) of a pipeline's versions (pipeline_detail's), newest first, the one in use marked."""
    return [(v["version"], version_label(v["version"], in_use=v["in_use"], made=v["created_at"]))
            for v in reversed(pipeline["versions"])]


def default_from(pipeline, to_version):
    """The version a move most likely starts from: the newest one that is not the target."""
    return next((v["version"] for v in reversed(pipeline["versions"]) if v["version"] != to_version), "")


def move_context(*, pipeline, from_version, to_version, owners):
    """What the picker and the dry-run table need: the versions, the two chosen, and the preview or its error."""
    context = {"move_pipeline": pipeline["name"], "move_versions": move_versions(pipeline),
               "from_version": from_version, "to_version": to_version, "from_short": short(from_version),
               "to_short": short(to_version), "move": None, "move_error": None}
    if from_version and to_version:
        try:
            context["move"] = version_move_preview(pipeline=pipeline["name"], from_version=from_version,
                                                   to_version=to_version, owners=owners, limit=PREVIEW_ROWS)
        except DatpError as exc:
            context["move_error"] = message_of(exc)
    return context


def pipeline_or_404(name):
    try:
        return pipeline_detail(name=name)
    except NotFound as exc:
        raise Http404(str(exc)) from exc


class PipelineMoveView(ConsoleMixin, TemplateView):
    """Pick the versions and see the dry run (GET), then start the move (POST)."""

    template_name = "monitoring/pipeline_move.html"

    def get(self, request, name):
        self.require_operator()
        pipeline = pipeline_or_404(name)
        to_version = request.GET.get("to_version", "").strip() or pipeline["version"]
        from_version = request.GET.get("from_version", "").strip()
        return self.show(pipeline, from_version=from_version, to_version=to_version,
                         suggested=from_version or default_from(pipeline, to_version))

    def post(self, request, name):
        pipeline = pipeline_or_404(name)
        from_version = request.POST.get("from_version", "").strip()
        to_version = request.POST.get("to_version", "").strip()
        reason = reason_of(request)
        try:
            job = version_move_start(pipeline=name, from_version=from_version, to_version=to_version,
                                     actor=self.scope.actor, reason=reason, owners=self.scope.owners)
        except DatpError as exc:
            return self.show(pipeline, from_version=from_version, to_version=to_version, suggested=from_version,
                             error=message_of(exc), reason=reason, status=exc.http_status)
        if job.status == BulkJobStatus.DONE:
            messages.success(request, f"Move to version {short(to_version)}: {job.done} moved, "
                                      f"{job.skipped} skipped.")
        else:
            messages.success(request, f"Move to version {short(to_version)}: a background job will move the "
                                      f"{job.total} transactions.")
        return redirect("mondat:bulk-job", job_id=job.pk)

    def require_operator(self):
        if not self.scope.allows("operator"):
            raise PermissionDenied("Your role may not move transactions.")

    def show(self, pipeline, *, from_version, to_version, suggested, error=None, reason="", status=200):
        context = self.get_context_data(pipeline=pipeline, error=error, reason=reason, suggested=suggested,
                                        **move_context(pipeline=pipeline, from_version=from_version,
                                                       to_version=to_version, owners=self.scope.owners))
        return self.render_to_response(context, status=status if error or not context["move_error"] else 400)
