"""Opaque keyset cursors shared by the API's and the console's pages: a JSON list, URL-safe base64."""
import base64
import binascii
import json


def pack(values):
    """The cursor for the keyset position `values` (a list of JSON values)."""
    return base64.urlsafe_b64encode(json.dumps(values, separators=(",", ":")).encode()).decode().rstrip("=")


def unpack(raw):
    """The values `pack` packed into `raw`; ValueError if `raw` is no cursor."""
    try:
        return json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    except (ValueError, binascii.Error) as exc:
        raise ValueError("not a cursor") from exc
