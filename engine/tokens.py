"""Callback tokens: derived from a per-callback random salt under the server's secret, stored only as
their SHA-256, and shown in data that flows on as a marker naming the callback. No ORM here."""
import base64
import hashlib
import hmac
import re
import secrets

from django.conf import settings
from django.urls import reverse
from django.utils.crypto import salted_hmac

KEY_SALT = "datp.callback-token"
MARKER_PREFIX = "redacted:"
MARKER = re.compile(r"^redacted:([^:]+):(.+)$")


def new_salt():
    """128 random bits, kept with the callback: without it the token cannot be derived."""
    return secrets.token_hex(16)


def derive(salt, *, tx_id, name, secret=None):
    """The token of the callback `name` of `tx_id` created with `salt`: 256 bits, URL-safe."""
    mac = salted_hmac(KEY_SALT, f"{tx_id}\n{name}\n{salt}", secret=secret, algorithm="sha256").digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def digest(token):
    """The SHA-256 (hex) a token is stored and looked up by."""
    return hashlib.sha256(token.encode()).hexdigest()


def recover(*, salt, token_hash, tx_id, name):
    """The token again, for its owner: derived under the secret key or one of its fallbacks (a rotated
    key), and returned only if its digest is the stored one; None when it cannot be derived."""
    if not salt:
        return None
    for secret in (settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", ())):
        token = derive(salt, tx_id=tx_id, name=name, secret=secret)
        if hmac.compare_digest(digest(token), token_hash):
            return token
    return None


def of_callback(callback):
    """`recover` for a Callback row (anything with its fields)."""
    return recover(salt=callback.token_salt, token_hash=callback.token_hash, tx_id=callback.tx_id,
                   name=callback.name)


def url(token):
    """The path a partner reports to: /api/v1/callbacks/<token>."""
    return reverse("api:callback", kwargs={"token": token})


def marker(tx_id, name):
    """What stands for the token (and its URL) in outputs, inputs, data and logs."""
    return f"{MARKER_PREFIX}{tx_id}:{name}"


def parse_marker(value):
    """(tx_id, name) of a marker, or None for anything else."""
    found = MARKER.match(value) if isinstance(value, str) else None
    return None if found is None else (found.group(1), found.group(2))
