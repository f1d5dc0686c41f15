"""The fields of a start as the API reads them: one body of POST /transactions, or one item of a bulk start."""
from engine.api.inputs import Fields

PASSED_ON = ("external_id", "data", "metadata", "deadline", "webhook")  # checked by the service, which names them


def start_fields(body):
    """Return (the start's fields for `transaction_start`, its `wait` as given); one InvalidRequest naming every
    bad field the API checks itself."""
    fields = Fields(body)
    found = {"transaction_type": fields.string("transaction_type", required=True, max_length=100)}
    found.update((name, fields.raw(name)) for name in PASSED_ON)
    found["webhook_progress"] = fields.boolean("webhook_progress")
    wait = fields.raw("wait")
    fields.done()
    return found, wait
