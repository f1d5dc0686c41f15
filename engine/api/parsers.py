"""The one request parser of the API: JSON objects, read no further than DATP["MAX_PAYLOAD_BYTES"]."""
import json

from rest_framework import exceptions, status
from rest_framework.parsers import BaseParser

from engine import conf
from engine.errors import InvalidRequest


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "payload_too_large"
    default_detail = "The request body is too large."

    def __init__(self, *, max_bytes):
        super().__init__()
        self.extra = {"max_bytes": max_bytes}


UNSTORABLE = "Must not hold NUL characters or lone surrogates."


def _reject_constant(name):
    raise ValueError(f"{name} is not valid JSON")


def storable(text):
    """Tell whether a database can store `text` (no NUL character, no lone surrogate)."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _unstorable(value):
    """Tell whether `value` holds a string no database can store (NUL, lone surrogates)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str) and not storable(item):
            return True
    return False


def unstorable_fields(value):
    """The fields of a body that hold a string no database can store (NUL, lone surrogates): each
    top-level field by its name, and "body" for a bad field name or a body that is no object."""
    if not isinstance(value, dict):
        return ["body"] if _unstorable(value) else []
    found = [name for name, item in value.items() if storable(name) and _unstorable(item)]
    if not all(map(storable, value)):
        found.append("body")
    return found


class JsonParser(BaseParser):
    """Parse a JSON body. Not DRF's JSONParser: that one is handed the whole body, read unbounded."""

    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None):
        limit = conf.get("MAX_PAYLOAD_BYTES")
        raw = stream.read(limit + 1)
        if len(raw) > limit:
            raise PayloadTooLarge(max_bytes=limit)
        try:
            value = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
        except (ValueError, RecursionError) as exc:
            raise exceptions.ParseError("The request body is not valid JSON.") from exc
        bad = unstorable_fields(value)
        if bad:
            raise InvalidRequest("A string holds a NUL character or a lone surrogate.",
                                 fields={name: [UNSTORABLE] for name in bad})
        return value
