"""The engine's settings: one DATP dict, its defaults here, overridden by settings.DATP."""
from django.conf import settings

DEFAULTS = {
    "SHORT_SLEEP_SECONDS": 2.0,
    "MAX_WAIT": "PT30S",
    "MAX_PAYLOAD_BYTES": 1048576,
    "LEASE_SECONDS": 30.0,
    "MAX_ATTEMPTS": 3,
    "WEBHOOK_ALLOW_PRIVATE_NETWORKS": False,
    "WEBHOOK_TIMEOUT_SECONDS": 10.0,
    "METRICS_PUBLIC": True,
    "RETENTION": "",
    "BROKER": "orm",
    "DISPATCHER": "django_q",
    "STEP_MODULES": [],
    "SWITCH_FALLBACK_SECONDS": 7200,
    "DEFAULT_RETRY_LATER_SECONDS": 300,
    "GLOBAL_WAKE_BATCH": 500,
    "DEFAULT_NODE_GROUP": "master",
    "DRAIN_SECONDS": 2.0,
    "BATCH_MAX": 16,
    "BATCH_WINDOW_SECONDS": 0.01,
    "GROUP_COMMIT": True,
    "STANDBY_SECONDS": 60.0,
    "NODE_GRACE_SECONDS": 30.0,
    "NODE_GONE_SECONDS": 60.0,
    "FROZEN_CLUSTER_SECONDS": 15.0,
    "BULK_INLINE_MAX": 2000,
    "BULK_BATCH": 500,
    "MAX_FAN_OUT_ITEMS": 100000,
    "PREPARED_STATEMENTS": True,
    "FAST_PATHS": True,
    "CALLBACK_REQUIRES_KEY": False,
}

# The settings that are times, checked at start-up (engine.checks): numbers of seconds, ISO 8601 durations.
SECONDS_SETTINGS = ("SHORT_SLEEP_SECONDS", "LEASE_SECONDS", "WEBHOOK_TIMEOUT_SECONDS", "SWITCH_FALLBACK_SECONDS",
                    "DEFAULT_RETRY_LATER_SECONDS", "DRAIN_SECONDS", "STANDBY_SECONDS", "NODE_GRACE_SECONDS",
                    "NODE_GONE_SECONDS", "FROZEN_CLUSTER_SECONDS", "BATCH_WINDOW_SECONDS")
POSITIVE_SETTINGS = ("LEASE_SECONDS", "WEBHOOK_TIMEOUT_SECONDS", "DRAIN_SECONDS")
DURATION_SETTINGS = ("MAX_WAIT", "RETENTION")  # RETENTION may be "" (keep everything)
# The settings that are counts (whole numbers, at least 1), checked at start-up too.
COUNT_SETTINGS = ("MAX_PAYLOAD_BYTES", "MAX_ATTEMPTS", "BULK_INLINE_MAX", "BULK_BATCH", "MAX_FAN_OUT_ITEMS",
                  "BATCH_MAX")


def get(name):
    """Return the DATP setting `name`, or its default."""
    return getattr(settings, "DATP", {}).get(name, DEFAULTS[name])
