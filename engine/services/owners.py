"""Owners and their API keys: keys are 256 random bits, stored only as their SHA-256."""
import hashlib
import hmac
import re
import secrets
from datetime import timedelta

from django.db import transaction
from django.db.models import Q

from engine import clock
from engine.errors import InvalidRequest, NotFound
from engine.limits import OWNER_PATTERN
from engine.models import ApiKey, Owner
from engine.services import statements

OWNER_RE = re.compile(OWNER_PATTERN)


def hash_key(raw):
    return hashlib.sha256(raw.encode()).hexdigest()


def owner_ensure(*, name, description=""):
    """Return the owner `name`, creating it (with a fresh webhook secret) if needed."""
    if not isinstance(name, str) or not OWNER_RE.match(name):
        raise InvalidRequest("An owner name is 1 to 64 letters, digits or _.- .", fields={"owner": ["Not valid."]})
    owner, _ = Owner.objects.get_or_create(
        name=name,
        defaults={"description": description, "webhook_secret": secrets.token_hex(32), "created_at": clock.now()},
    )
    return owner


def owner_rotate_webhook_secret(*, owner):
    secret = secrets.token_hex(32)
    if not Owner.objects.filter(pk=owner).update(webhook_secret=secret):
        raise NotFound("No such owner.")
    return secret


def api_key_create(*, owner, name, system=False):
    """Create a key for `owner` (created if needed); return (api_key, raw_key). The raw key is shown once."""
    with transaction.atomic():
        owner_obj = owner_ensure(name=owner)
        raw = f"datp_{secrets.token_urlsafe(32)}"
        key = ApiKey.objects.create(owner=owner_obj, name=name, key_hash=hash_key(raw), prefix=raw[:12],
                                    is_system=system, created_at=clock.now())
    return key, raw


def api_key_authenticate(*, raw):
    """Return the active ApiKey for `raw`, or None. One indexed lookup by hash, compared in constant time."""
    if not isinstance(raw, str) or not raw:
        return None
    digest = hash_key(raw)
    key = _active_key(digest)
    if key is None or not hmac.compare_digest(key.key_hash, digest):
        return None
    return key


KEY_COLUMNS = ("id", "owner_id", "name", "key_hash", "prefix", "is_system", "created_at", "last_used_at", "revoked_at")
KEY_SQL = f"SELECT {', '.join(KEY_COLUMNS)} FROM engine_apikey WHERE key_hash = %(digest)s AND revoked_at IS NULL"


def _active_key(digest):
    """Return the unrevoked key with this hash (every API request asks: a prepared statement on PostgreSQL)."""
    if not statements.is_postgres():
        return ApiKey.objects.filter(key_hash=digest, revoked_at__isnull=True).first()
    found = statements.rows(KEY_SQL, {"digest": digest}, read_only=True)  # a request's first: the health check
    if not found:
        return None
    return ApiKey.from_db("default", KEY_COLUMNS, found[0])  # KEY_COLUMNS are its fields, in order: the fast init


def api_key_touch(*, key, now, every_seconds=60):
    """Record that `key` was used, at most once every `every_seconds`: usually no write at all."""
    if key.last_used_at is not None and now - key.last_used_at < timedelta(seconds=every_seconds):
        return False
    stale = Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - timedelta(seconds=every_seconds))
    ApiKey.objects.filter(stale, pk=key.pk).update(last_used_at=now)
    key.last_used_at = now
    return True


def api_key_revoke(*, key_id, owner=None):
    queryset = ApiKey.objects.filter(pk=key_id, revoked_at__isnull=True)
    if owner is not None:
        queryset = queryset.filter(owner_id=owner)
    if not queryset.update(revoked_at=clock.now()):
        raise NotFound("No such active API key.")
