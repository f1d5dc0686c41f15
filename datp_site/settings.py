"""Django settings for DATP: every value comes from the environment, read once here."""
import os
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url

from engine import setup as datp

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("DATP_VAR_DIR", BASE_DIR / "var"))


def env_bool(name, default):
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_seconds(name, default):
    """A number of seconds from the environment; text that is no number stays text, for the system check
    datp.E001 to name (rather than a ValueError at import)."""
    value = os.environ.get(name, default)
    try:
        return float(value)
    except ValueError:
        return value


def env_count(name, default):
    """A whole number from the environment; anything else stays text, for the system check datp.E002."""
    value = os.environ.get(name, default)
    try:
        return int(value)
    except ValueError:
        return value


def env_list(name, default):
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def load_secret_key():
    if os.environ.get("DJANGO_SECRET_KEY"):
        return os.environ["DJANGO_SECRET_KEY"]
    path = VAR_DIR / "secret_key"
    if not path.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = load_secret_key()
DEBUG = env_bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost")

INSTALLED_APPS = ["django.contrib.admin", *datp.CONTRIB_APPS, *datp.APPS]

# engine.setup's MIDDLEWARE (the header middleware first, so that every response carries their headers:
# static files and the API's early refusals included; AxesMiddleware last), with WhiteNoise serving the
# static files after the header middleware.
MIDDLEWARE = [*datp.MIDDLEWARE]
MIDDLEWARE.insert(len(datp.HEADER_MIDDLEWARE), "whitenoise.middleware.WhiteNoiseMiddleware")

ROOT_URLCONF = "datp_site.urls"
WSGI_APPLICATION = "datp_site.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [*datp.CONTEXT_PROCESSORS],
        },
    },
]


def database_config(url):
    """Build the default database; SQLite gets WAL, immediate transactions and a busy timeout."""
    config = dj_database_url.parse(url, conn_max_age=600, conn_health_checks=True)
    if config["ENGINE"] == "django.db.backends.sqlite3":
        config["CONN_MAX_AGE"] = 0 if config["NAME"] == ":memory:" else 600
        config["OPTIONS"] = {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    return config


DATABASE_URL = os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'datp.sqlite3'}"
if DATABASE_URL.startswith("sqlite:///") and "datp.sqlite3" in DATABASE_URL:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
DATABASES = {"default": database_config(DATABASE_URL)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# django-axes counts failed logins (MONDAT's and the admin's) by username and address together, in the
# database; after AXES_FAILURE_LIMIT failures that pair is refused for AXES_COOLOFF_MINUTES, counted from
# its latest attempt. The lock-out page says when to try again (monitoring/views/login.py).
AUTHENTICATION_BACKENDS = [*datp.AUTHENTICATION_BACKENDS]
AXES_ENABLED = env_bool("AXES_ENABLED", True)
AXES_FAILURE_LIMIT = int(os.environ.get("AXES_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=float(os.environ.get("AXES_COOLOFF_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "monitoring.views.login.locked_out"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)

# Security headers. SecurityMiddleware sends X-Content-Type-Options: nosniff, Referrer-Policy: same-origin
# and Cross-Origin-Opener-Policy: same-origin by default; XFrameOptionsMiddleware sends X-Frame-Options: DENY.
# The CSP (engine/setup.py) allows scripts, styles and fonts from this site only (no inline script, no eval).
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
CONTENT_SECURITY_POLICY = datp.CONTENT_SECURITY_POLICY

LOGIN_URL = datp.LOGIN_URL
LOGIN_REDIRECT_URL = "/mondat/"

# drf-spectacular's schema class and the OpenAPI document's settings, from their one home (engine/setup.py);
# the API's other DRF classes are set on its base view (engine/api/base.py).
REST_FRAMEWORK = {**datp.REST_FRAMEWORK}
SPECTACULAR_SETTINGS = {**datp.SPECTACULAR_SETTINGS}

# The engine's own settings: defaults live in engine/conf.py; these are the environment's overrides.
DATP = {
    "SHORT_SLEEP_SECONDS": env_seconds("DATP_SHORT_SLEEP_SECONDS", "2"),
    "MAX_WAIT": os.environ.get("DATP_MAX_WAIT", "PT30S"),
    "MAX_PAYLOAD_BYTES": env_count("DATP_MAX_PAYLOAD_BYTES", "1048576"),
    "LEASE_SECONDS": env_seconds("DATP_LEASE_SECONDS", "30"),
    "MAX_ATTEMPTS": env_count("DATP_MAX_ATTEMPTS", "3"),
    "WEBHOOK_ALLOW_PRIVATE_NETWORKS": env_bool("DATP_WEBHOOK_ALLOW_PRIVATE_NETWORKS", False),
    "METRICS_PUBLIC": env_bool("DATP_METRICS_PUBLIC", True),
    "RETENTION": os.environ.get("DATP_RETENTION", ""),
    "BROKER": os.environ.get("DATP_BROKER", "orm"),
    "DISPATCHER": os.environ.get("DATP_DISPATCHER", "django_q"),
    "STEP_MODULES": env_list("DATP_STEP_MODULES", ""),
    "BULK_INLINE_MAX": env_count("DATP_BULK_INLINE_MAX", "2000"),
    "MAX_FAN_OUT_ITEMS": env_count("DATP_MAX_FAN_OUT_ITEMS", "100000"),
    # False behind a pooler in transaction mode that does not track prepared statements (PostgreSQL).
    "PREPARED_STATEMENTS": env_bool("DATP_PREPARED_STATEMENTS", True),
    # True: a callback token works only with an API key of the callback's owner (Authorization: Bearer).
    "CALLBACK_REQUIRES_KEY": env_bool("DATP_CALLBACK_REQUIRES_KEY", False),
    "STANDBY_SECONDS": env_seconds("DATP_STANDBY_SECONDS", "60"),
    # How many transactions a worker claims and checkpoints together under load (1: one at a time), and how
    # long a step's checkpoint may wait for the steps run after it.
    "BATCH_MAX": env_count("DATP_BATCH_MAX", "16"),
    "BATCH_WINDOW_SECONDS": env_seconds("DATP_BATCH_WINDOW_SECONDS", "0.01"),
    # False: each start outside an atomic block commits alone (PostgreSQL), never in a group with others.
    "GROUP_COMMIT": env_bool("DATP_GROUP_COMMIT", True),
    # False: the state transitions take their general (ORM) paths on PostgreSQL too; the tests run so once.
    "FAST_PATHS": env_bool("DATP_FAST_PATHS", True),
}

# django-q2 reads Q_CLUSTER when it is imported, so every node group's cluster is described here,
# up front: a node names its group with Q_CLUSTER_NAME and ALT_CLUSTERS must hold that name (engine/setup.py).
Q_CLUSTER = datp.q_cluster(broker=DATP["BROKER"])

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"callback_tokens": {"()": "engine.logfilters.RedactCallbackTokens"}},
    "formatters": {"django.server": {"()": "django.utils.log.ServerFormatter", "format": "[{server_time}] {message}",
                                     "style": "{"}},
    "handlers": {"console": {"class": "logging.StreamHandler"},
                 "django.server": {"class": "logging.StreamHandler", "formatter": "django.server"}},
    "root": {"handlers": ["console"], "level": os.environ.get("DATP_LOG_LEVEL", "INFO")},
    # These log request paths, and a callback's path carries its token; django.server is runserver's
    # access log (make run), configured as Django's default but for the filter.
    "loggers": {
        **{name: {"filters": ["callback_tokens"]} for name in ("django.request", "engine.api.exceptions")},
        "django.server": {"handlers": ["django.server"], "level": "INFO", "propagate": False,
                          "filters": ["callback_tokens"]},
    },
}
