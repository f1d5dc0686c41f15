"""Reading request input: the JSON object body, and plain field checks that collect every problem
into one `invalid_request` with `extra.fields`."""
from rest_framework.exceptions import UnsupportedMediaType

from engine import clock, conf, durations
from engine.api.middleware import content_length
from engine.errors import InvalidRequest

MISSING = object()


def json_body(request):
    """Return the request body as a dict ({} when there is none); only a JSON object is accepted."""
    has_body = (content_length(request) or 0) > 0
    if has_body and not request.content_type:
        raise UnsupportedMediaType("")
    data = request.data
    if not has_body:
        return {}
    if not isinstance(data, dict):
        raise InvalidRequest("The request body must be a JSON object.", fields={"body": ["Must be a JSON object."]})
    return data


class Fields:
    """Check the fields of a body; `done()` raises one InvalidRequest naming every bad field. With `allowed`, a
    field the operation does not know is one of them (a misspelt option must not pass unnoticed)."""

    def __init__(self, body, allowed=None):
        self.body = body
        self.errors = {} if allowed is None else {name: ["Unknown field."] for name in sorted(set(body) - set(allowed))}

    def _value(self, name, required):
        value = self.body.get(name, MISSING)
        if value is MISSING and required:
            self.errors[name] = ["This field is required."]
        return value

    def string(self, name, *, required=False, max_length=None, default=None):
        value = self._value(name, required)
        if value is MISSING or (value is None and not required):
            return default
        if not isinstance(value, str) or (required and not value):
            self.errors[name] = ["Must be a non-empty string." if required else "Must be a string."]
        elif max_length is not None and len(value) > max_length:
            self.errors[name] = [f"At most {max_length} characters."]
        return value

    def boolean(self, name, *, default=False):
        value = self._value(name, False)
        if value is MISSING or value is None:
            return default
        if not isinstance(value, bool):
            self.errors[name] = ["Must be true or false."]
        return value

    def integer(self, name, *, minimum, maximum, default=None):
        value = self._value(name, False)
        if value is MISSING or value is None:
            return default
        if not isinstance(value, int) or isinstance(value, bool) or not minimum <= value <= maximum:
            self.errors[name] = [f"A whole number from {minimum} to {maximum}."]
        return value

    def raw(self, name, *, required=False, default=None):
        """A value checked later by the service (which names the field in its own InvalidRequest)."""
        value = self._value(name, required)
        return default if value is MISSING else value

    def done(self):
        if self.errors:
            raise InvalidRequest("The request has invalid fields.", fields=self.errors)


def wait_seconds(value, field="wait"):
    """Seconds to hold a reply for `value` (an ISO 8601 duration), capped at DATP["MAX_WAIT"]; None stays 0."""
    if value is None or value == "":
        return 0.0
    now = clock.now()
    if not isinstance(value, str):
        raise durations.field_error(field, durations.NOT_A_DURATION)
    return durations.capped_seconds(value, now, cap=conf.get("MAX_WAIT"), field=field)
