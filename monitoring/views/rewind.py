"""Rewind a transaction from the console: GET /mondat/transactions/<tx_id>/rewind shows the steps it ran (its step
runs, in order) and the steps of the version it would run on (its own, the pipeline's in use, or another one),
each with the data it would start with; POST calls `transaction_rewind` as the user.

Operators (and above) only, as retry and cancel. A refusal (a typed engine error, or an incomplete form) shows
the form again with the engine's message and changes nothing; success goes back to the Transaction page."""
import json

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.urls import reverse
from django.views.generic import TemplateView

from engine import clock, conf
from engine.errors import DatpError, NotFound
from engine.selectors import pipeline_detail, step_runs_page
from engine.selectors.pipelines_console import pipeline_version_get
from engine.selectors.why import relative, stamp
from engine.services.rewind import CURRENT, transaction_rewind
from engine.states import TxStatus
from monitoring.journal_text import short
from monitoring.views.action_helpers import reason_of
from monitoring.views.base import ConsoleMixin
from monitoring.views.transaction import pretty
from monitoring.views.transaction_actions import message_of
from monitoring.views.version_moves import version_label

# The newest step runs the timeline shows (and reads the data of).
RUNS_SHOWN = 200


class FormProblem(Exception):
    """The form itself is incomplete or unreadable: nothing was done."""


def version_choices(tx, pipeline):
    """(value, label) of the versions a rewind may land on: its own, the pipeline's in use, any other one."""
    current = pipeline["version"]
    same = " (its own)" if current == tx.version_id else ""
    choices = [("", f"its own, {short(tx.version_id)}"), (CURRENT, f"the pipeline's in use, {short(current)}{same}")]
    for version in reversed(pipeline["versions"]):
        if version["version"] not in (tx.version_id, current):
            choices.append((version["version"], version_label(version["version"], in_use=False,
                                                              made=version["created_at"] or "")))
    return choices


def target_of(tx, pipeline, choice):
    """The version id `choice` names for `tx` (None when the pipeline has no such version)."""
    if not choice:
        return tx.version_id
    if choice == CURRENT:
        return pipeline["version"]
    return choice if any(v["version"] == choice for v in pipeline["versions"]) else None


class TransactionRewindView(ConsoleMixin, TemplateView):
    """The rewind form (GET) and the rewind itself (POST), for operators."""

    template_name = "monitoring/transaction_rewind.html"

    def get(self, request, tx_id):
        if not self.scope.allows("operator"):
            raise PermissionDenied("Your role may not rewind transactions.")
        tx = self.get_tx(tx_id)
        return self.show(tx, entered={"version": request.GET.get("version", "").strip()})

    def post(self, request, tx_id):
        tx = self.get_tx(tx_id)
        entered = {name: request.POST.get(name, "").strip() for name in ("to_step", "version", "data", "deadline")}
        entered["reason"] = reason_of(request)
        entered["webhook_again"] = request.POST.get("webhook_again") == "on"
        try:
            done = self.rewind(tx, entered)
        except FormProblem as exc:
            return self.show(tx, entered=entered, error=str(exc), status=400)
        except DatpError as exc:
            return self.show(tx, entered=entered, error=message_of(exc), status=exc.http_status)
        messages.success(request, f"Rewound to step {done.step_name} on version {short(done.version_id)}: "
                                  "the transaction is queued.")
        return redirect(reverse("mondat:transaction", args=[tx.pk]))

    def rewind(self, tx, entered):
        if not entered["to_step"]:
            raise FormProblem("Pick the step to run again: nothing was done.")
        if not entered["reason"]:
            raise FormProblem("Give a reason to rewind the transaction: nothing was done.")
        data = None
        if entered["data"]:
            if len(entered["data"].encode()) > conf.get("MAX_PAYLOAD_BYTES"):
                raise FormProblem(f"The data is larger than {conf.get('MAX_PAYLOAD_BYTES')} bytes: nothing was done.")
            try:
                data = json.loads(entered["data"])
            except ValueError as exc:
                raise FormProblem(f"The data is not valid JSON ({exc}): nothing was done.") from exc
        return transaction_rewind(tx_id=tx.pk, owner=tx.owner_id, actor=self.scope.actor, reason=entered["reason"],
                                  to_step=entered["to_step"], data=data, version=entered["version"] or None,
                                  deadline=entered["deadline"] or None, webhook_again=entered["webhook_again"])

    def show(self, tx, *, entered, error=None, status=200):
        context = self.get_context_data(tx=tx, entered=entered, error=error, **self.timeline(tx, entered))
        return self.render_to_response(context, status=status)

    def timeline(self, tx, entered):
        """The step runs, the target version's steps with the data each would start with, and which is picked."""
        try:
            pipeline = pipeline_detail(name=tx.pipeline_name)
        except NotFound:
            pipeline = {"version": tx.version_id, "versions": [{"version": tx.version_id, "created_at": ""}]}
        target = target_of(tx, pipeline, entered.get("version", ""))
        problem = None
        if target is None:
            problem = f"Pipeline {tx.pipeline_name} has no version {entered['version']}: showing its own version."
            entered["version"], target = "", tx.version_id
        try:
            steps = pipeline_version_get(name=tx.pipeline_name, version=target).steps
        except NotFound:
            steps = []
        runs = step_runs_page(tx_id=tx.pk, after_seq=max(0, tx.step_seq - RUNS_SHOWN), limit=RUNS_SHOWN)
        names = {step["name"] for step in steps}
        last = {run.step: run for run in runs}
        chosen = entered.get("to_step") or next((run.step for run in reversed(runs) if run.step in names),
                                                steps[0]["name"] if steps else "")
        now = clock.now()
        picked_seq = max((run.seq for run in runs if run.step == chosen), default=None)
        return {
            "running": tx.status == TxStatus.RUNNING,
            "choices": version_choices(tx, pipeline),
            "target": target, "target_short": short(target), "version_problem": problem,
            "runs": [{"run": run, "started": stamp(run.started_at), "ago": relative(run.started_at, now=now),
                      "in_target": run.step in names, "picked": run.seq == picked_seq} for run in runs],
            "older_runs": bool(runs) and runs[0].seq > 1,
            "steps": [{"index": index + 1, "name": step["name"], "type": step["type"],
                       "runs": sum(1 for run in runs if run.step == step["name"]),
                       "default": self.default_of(tx, step["name"], index, last, runs),
                       "picked": picked_seq is None and step["name"] == chosen}
                      for index, step in enumerate(steps)],
        }

    @staticmethod
    def default_of(tx, name, index, last, runs):
        """What the step starts with when the data is left empty: (where from, its JSON or None)."""
        if name in last:
            return {"source": f"the input of step run {last[name].seq}", "json": pretty(last[name].input)}
        if runs and runs[0].seq > 1:
            return {"source": "the input of its last step run, if it ran before the ones shown", "json": None}
        if index == 0:
            return {"source": "the transaction's input", "json": pretty(tx.input)}
        return None
