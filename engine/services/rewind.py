"""Rewind a transaction: run it again from an earlier step, with that step's data as it was (from its step runs)
or as given, on its own version of the pipeline or another one (Temporal's reset, DBOS's fork, Step Functions'
redrive). What the abandoned steps left open (callbacks, fan-outs, children) is cancelled as a cancel would."""
from django.db import transaction

from engine import clock, durations
from engine.errors import (
    DeadlinePassed,
    EndReported,
    InvalidRequest,
    ParentFinished,
    StepNotInVersion,
    StepNotRun,
    TransactionRunning,
    VersionNotFound,
)
from engine.limits import REASON_MAX
from engine.models import (
    Pipeline,
    PipelineVersion,
    StepRun,
    Transaction,
    WebhookDelivery,
)
from engine.services import webhooks
from engine.services.common import lock_tx, retry_on_deadlock
from engine.services.followups import close_open, follow_up
from engine.services.runs import definition_of
from engine.services.state.rewind import rewind
from engine.states import TxStatus, is_terminal

# The version a rewind names to mean the pipeline's version in use.
CURRENT = "current"


def _checked(*, to_step, data, version, reason):
    fields = {}
    if not isinstance(to_step, str) or not to_step:
        fields["to_step"] = ["The name of a step of the pipeline."]
    if data is not None and not isinstance(data, dict):
        fields["data"] = ["Must be an object."]
    if version is not None and (not isinstance(version, str) or not version):
        fields["version"] = [f"A version of the pipeline, or {CURRENT!r}."]
    if not isinstance(reason, str) or len(reason) > REASON_MAX:
        fields["reason"] = [f"Text of at most {REASON_MAX} characters."]
    if fields:
        raise InvalidRequest("The rewind has invalid fields.", fields=fields)


def target_version(tx, version):
    """The version id a rewind of `tx` lands on: its own (None), its pipeline's in use (`current`), or a
    named version of its pipeline (VersionNotFound otherwise)."""
    if version is None:
        return tx.version_id
    if version == CURRENT:
        return Pipeline.objects.values_list("current_version_id", flat=True).get(pk=tx.pipeline_name)
    if not PipelineVersion.objects.filter(pipeline_id=tx.pipeline_name, version=version).exists():
        raise VersionNotFound(f"Pipeline {tx.pipeline_name!r} has no version {version!r}.")
    return version


def _steps(version_id):
    return [step["name"] for step in definition_of(version_id=version_id)["steps"]]


def _refuse_links(tx):
    """A child may go back only while its parent runs, and an end already reported is not taken back."""
    if tx.parent_id is not None:
        parent_status = Transaction.objects.values_list("status", flat=True).get(pk=tx.parent_id)
        if is_terminal(parent_status):
            raise ParentFinished(f"Its parent {tx.parent_id} has finished ({parent_status}).", parent=tx.parent_id)
    if is_terminal(tx.status) and (tx.parent_id is not None or tx.report_to_id is not None):
        whom = f"its parent {tx.parent_id}" if tx.parent_id is not None else "the callback it reports to"
        raise EndReported(f"Its end ({tx.status}) was reported to {whom}, which has gone on from it.")


def _step_input(tx, *, to_step, steps, data):
    """The data `to_step` starts with, and where it came from: as given, else the input of its last step run,
    else (the first step, never run) the transaction's own input."""
    if data is not None:
        return data, "given"
    last = StepRun.objects.filter(tx_id=tx.pk, step=to_step).order_by("-seq").values_list("seq", "input").first()
    if last is not None:
        return last[1], f"step run {last[0]}"
    if to_step == steps[0]:
        return tx.input, "transaction input"
    raise StepNotRun(f"The transaction never ran step {to_step!r}: give the data it should start with.",
                     step=to_step)


def _webhook_mode(tx, again):
    """What the next finish sends to the transaction's webhook: `again` when asked, `quiet` when it has sent
    a finished event before (the first finish's is not sent again), else `first`; None without a webhook."""
    if not tx.webhook_url:
        return None
    if again:
        return "again"
    sent = WebhookDelivery.objects.filter(tx_id=tx.pk, event=webhooks.FINISHED_EVENT).exists()
    return "quiet" if sent else "first"


@retry_on_deadlock
def transaction_rewind(*, tx_id, to_step, actor, reason="", data=None, version=None, deadline=None,
                       webhook_again=False, owner=None):
    """Send a transaction that no worker holds (queued, sleeping or ended) back to `to_step`, to run it again
    with `data` (default: as that step last started), on `version` (None: its own; "current"; a version id).

    Refused, changing nothing: TransactionRunning, ParentFinished, EndReported, VersionNotFound,
    StepNotInVersion, StepNotRun, DeadlinePassed. Returns the transaction, queued."""
    _checked(to_step=to_step, data=data, version=version, reason=reason)
    now = clock.now()
    new_deadline = durations.resolve_deadline(deadline, now)
    with transaction.atomic():
        tx = lock_tx(tx_id=tx_id, owner=owner)
        if tx.status == TxStatus.RUNNING:
            raise TransactionRunning()
        _refuse_links(tx)
        version_id = target_version(tx, version)
        steps = _steps(version_id)
        if to_step not in steps:
            raise StepNotInVersion(f"Version {version_id[:12]} of {tx.pipeline_name!r} has no step {to_step!r}.",
                                   step=to_step, version=version_id)
        step_input, source = _step_input(tx, to_step=to_step, steps=steps, data=data)
        deadline_at = new_deadline or tx.deadline_at
        if deadline_at is not None and deadline_at <= now:
            raise DeadlinePassed()
        rewind(tx, to_step=to_step, version_id=version_id, step_input=step_input, deadline_at=deadline_at,
               actor=actor, now=now, reason=reason, data_from=source, webhook=_webhook_mode(tx, webhook_again))
        # After the rewind, not before: a callback it awaited, forced to cancel, must find no sleeper to wake.
        follow_up(*close_open(tx, now=now, reason=f"rewound to {to_step}"), now=now)
    return tx
