"""Typed errors of the engine: each has a stable `code`, an HTTP status, a message and `extra`."""


class DatpError(Exception):
    code = "invalid_request"
    http_status = 400
    default_message = "The request is not valid."

    def __init__(self, message=None, **extra):
        self.message = message or self.default_message
        self.extra = extra
        super().__init__(self.message)

    def as_dict(self):
        return {"code": self.code, "message": self.message, "extra": self.extra}


class InvalidRequest(DatpError):
    """A field is wrong; `extra["fields"]` maps each field to its problems."""


class InvalidPipeline(DatpError):
    code = "invalid_pipeline"
    default_message = "The pipeline definition is not valid."

    def __init__(self, errors, message=None):
        super().__init__(message or self.listing(errors), errors=errors)
        self.errors = errors

    @staticmethod
    def listing(errors, most=5):
        """Return a message that names the problems themselves, so a traceback shows what to fix."""
        count = len(errors)
        shown = "; ".join(str(error) for error in errors[:most])
        more = f"; and {count - most} more (see .errors)" if count > most else ""
        return f"The pipeline definition has {count} problem{'s' if count != 1 else ''}: {shown}{more}"


class UnknownTransactionType(DatpError):
    code = "unknown_transaction_type"
    default_message = "No pipeline of that name may be started as a transaction."


class PermissionDenied(DatpError):
    code = "permission_denied"
    http_status = 403
    default_message = "You may not do this."


class NotFound(DatpError):
    code = "not_found"
    http_status = 404
    default_message = "Not found."


class TransactionNotFound(NotFound):
    default_message = "No such transaction."


class CallbackNotFound(NotFound):
    default_message = "No such callback."


class ScheduleNotFound(NotFound):
    default_message = "No such schedule."


class Conflict(DatpError):
    http_status = 409


class ScheduleExists(Conflict):
    code = "schedule_exists"
    default_message = "A schedule with this name already exists."


class DuplicateExternalId(Conflict):
    code = "duplicate_external_id"
    default_message = "A transaction with this external id already exists."


class TransactionFinished(Conflict):
    code = "transaction_finished"
    default_message = "The transaction has finished."


class NotSleeping(Conflict):
    code = "not_sleeping"
    default_message = "The transaction is not sleeping."


class NotRetryable(Conflict):
    code = "not_retryable"
    default_message = "The transaction cannot be retried."


class CallbackFinal(Conflict):
    code = "callback_final"
    default_message = "The callback is final and accepts no more updates."


class InvalidTransition(Conflict):
    code = "invalid_transition"
    default_message = "That status change is not allowed."


class VersionNotFound(NotFound):
    default_message = "No such version of this pipeline."


class TransactionRunning(Conflict):
    code = "transaction_running"
    default_message = "The transaction is running a step: cancel it or wait for its checkpoint."


class ParentFinished(Conflict):
    code = "parent_finished"
    default_message = "The transaction is a child whose parent has finished."


class EndReported(Conflict):
    code = "end_reported"
    default_message = "The transaction's end was already reported to its parent or callback."


class StepNotInVersion(Conflict):
    code = "step_not_in_version"
    default_message = "The step does not exist in the target pipeline version."


class StepNotRun(Conflict):
    code = "step_not_run"
    default_message = "The transaction never ran that step: give the data it should start with."


class DeadlinePassed(Conflict):
    code = "deadline_passed"
    default_message = "Its deadline has passed: give a new deadline."


class VersionMoved(Conflict):
    code = "version_moved"
    default_message = "The transaction is no longer sleeping or queued on the version it was to be moved from."


class LeaseLost(Exception):
    """A worker's write was refused because it no longer holds the transaction's lease."""
