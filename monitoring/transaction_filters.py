"""The Transactions list's filters and keyset cursor, read from a query string.

Shared by the list and the bulk pages, so that a bulk link carries exactly the list's filters:
`status` (repeated or comma-separated), `transaction_type`, `owner`, `external_id`, `node_group`,
`waiting_reason`, `switch`, `created_after`, `created_before` (ISO 8601; without a zone: UTC), `parent_tx_id`
(the children of a transaction), `fan_out` (the children of one of its fan-outs) and `version` (the id of the
pipeline version the transactions are pinned to).
"""

from django import forms

from engine import durations, keyset
from engine.states import TxStatus, WaitReason

FILTER_NAMES = ("status", "transaction_type", "owner", "external_id", "node_group", "waiting_reason", "switch",
                "created_after", "created_before", "parent_tx_id", "fan_out", "version")
DEFAULT_LIMIT = 50
MAX_LIMIT = 200


def encode_cursor(tx):
    """The opaque position after `tx` in the newest-first order."""
    return keyset.pack([tx.created_at.isoformat(), tx.pk])


def decode_cursor(raw):
    """(created_at, tx_id) from a cursor `encode_cursor` gave; ValueError for anything else."""
    try:
        values = keyset.unpack(raw)
        at, tx_id = values
        if not isinstance(at, str) or not isinstance(tx_id, str):
            raise ValueError(raw)
        return durations.parse_timestamp(at), tx_id
    except (ValueError, TypeError, durations.BadDuration) as exc:
        raise ValueError("not a cursor of this list") from exc


class TimestampField(forms.CharField):
    """An ISO 8601 timestamp; one without a zone (a datetime-local input) is read as UTC."""

    def to_python(self, value):
        value = super().to_python(value)
        if not value:
            return None
        try:
            return durations.parse_timestamp(value, naive_is_utc=True)
        except durations.BadDuration as exc:
            raise forms.ValidationError(str(exc)) from exc


class TransactionFilterForm(forms.Form):
    status = forms.MultipleChoiceField(choices=TxStatus.choices, required=False)
    transaction_type = forms.CharField(max_length=100, required=False)
    owner = forms.CharField(max_length=100, required=False)
    external_id = forms.CharField(max_length=128, required=False)
    node_group = forms.CharField(max_length=100, required=False)
    waiting_reason = forms.ChoiceField(choices=[("", "any"), *WaitReason.choices], required=False)
    switch = forms.CharField(max_length=64, required=False)
    created_after = TimestampField(required=False)
    created_before = TimestampField(required=False)
    parent_tx_id = forms.CharField(max_length=200, required=False)
    fan_out = forms.IntegerField(min_value=1, max_value=2**63 - 1, required=False)
    version = forms.CharField(max_length=64, required=False)
    cursor = forms.CharField(max_length=400, required=False)
    limit = forms.IntegerField(min_value=1, max_value=MAX_LIMIT, required=False)

    def clean_cursor(self):
        raw = self.cleaned_data["cursor"]
        if not raw:
            return None
        try:
            return decode_cursor(raw)
        except ValueError as exc:
            raise forms.ValidationError("Not a cursor this list gave.") from exc

    def filters(self):
        """The selector's keyword arguments (transactions_matching) for the valid, non-empty filters."""
        data = self.cleaned_data
        found = {"statuses": data["status"]} if data["status"] else {}
        for name in FILTER_NAMES[1:]:
            if data.get(name) not in (None, ""):
                found[name] = data[name]
        return found

    def page(self):
        """(before, limit): the keyset position to start after and the page size."""
        return self.cleaned_data["cursor"], self.cleaned_data["limit"] or DEFAULT_LIMIT


def filter_form(query):
    """The bound filter form for a query string (a QueryDict); `status` may also be comma-separated."""
    data = query.copy()
    data.setlist("status", [part.strip() for value in query.getlist("status") for part in value.split(",")
                            if part.strip()])
    return TransactionFilterForm(data)


def filter_query(query, **changes):
    """The query string of the filters in `query` (no cursor or limit unless given in `changes`)."""
    kept = query.copy()
    for name in list(kept):
        if name not in FILTER_NAMES or not any(kept.getlist(name)):
            del kept[name]
    for name, value in changes.items():
        kept[name] = value
    return kept.urlencode()
