"""The one request parser of the API: JSON objects, read no further than DATP["MAX_PAYLOAD_BYTES"]."""
import json
import math

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
MAX_DEPTH = 64  # nesting of arrays and objects in a body; deeper is refused before it reaches a renderer
TOO_DEEP = f"Nested deeper than {MAX_DEPTH} arrays or objects."
NOT_FINITE = "Numbers must be finite."


def _reject_constant(name):
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text):
    """A JSON number that overflows a float (1e400) would be stored as Infinity, which is no JSON."""
    number = float(text)
    return number if math.isfinite(number) else FloatOverflow()


class FloatOverflow:
    """The placeholder of a number too large for a float, refused on the field that holds it."""


def storable(text):
    """Tell whether a database can store `text` (no NUL character, no lone surrogate)."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _problem(value, depth=1):
    """What makes `value` unfit to store and render again (a message), or None."""
    stack = [(value, depth)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            if level > MAX_DEPTH:
                return TOO_DEEP
            children = [*item.keys(), *item.values()] if isinstance(item, dict) else item
            stack.extend((child, level + 1) for child in children)
        elif isinstance(item, str) and not storable(item):
            return UNSTORABLE
        elif isinstance(item, FloatOverflow):
            return NOT_FINITE
    return None


def body_problems(value):
    """The fields of a body that hold what no database can store or no renderer can write again (NUL,
    lone surrogates, numbers past a float, nesting past MAX_DEPTH), each top-level field by its name,
    and "body" for a bad field name or a body that is no object; as {field: [message]}."""
    if not isinstance(value, dict):
        problem = _problem(value)
        return {"body": [problem]} if problem else {}
    found = {}
    for name, item in value.items():
        problem = _problem(item, depth=2)
        if not storable(name):
            found["body"] = [UNSTORABLE]
        elif problem:
            found[name] = [problem]
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
            value = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant, parse_float=_finite_float)
        except (ValueError, RecursionError) as exc:
            raise exceptions.ParseError("The request body is not valid JSON.") from exc
        problems = self.problems(value)
        if problems:
            raise InvalidRequest("The request has invalid fields.", fields=problems)
        return value

    def problems(self, value):
        """{field: [message]} of what in the body no database can store (`body_problems`)."""
        return body_problems(value)
