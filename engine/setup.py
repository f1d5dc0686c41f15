"""What a host project puts in its settings to run DATP, in one public place (docs/install.md).

    from engine import setup as datp

    INSTALLED_APPS = [..., *datp.CONTRIB_APPS, *datp.APPS]
    MIDDLEWARE = [*datp.MIDDLEWARE]  # or yours with the strings docs/install.md names, in their places
    CONTENT_SECURITY_POLICY = datp.CONTENT_SECURITY_POLICY
    TEMPLATES[0]["OPTIONS"]["context_processors"] = [*datp.CONTEXT_PROCESSORS]
    AUTHENTICATION_BACKENDS = [*datp.AUTHENTICATION_BACKENDS]
    REST_FRAMEWORK = {**datp.REST_FRAMEWORK}  # or DEFAULT_SCHEMA_CLASS added to yours
    SPECTACULAR_SETTINGS = {**datp.SPECTACULAR_SETTINGS, "TITLE": "..."}
    Q_CLUSTER = datp.q_cluster()
    LOGIN_URL = datp.LOGIN_URL

The system checks datp.E010-E019, W010 and W011 (engine/checks_host.py) name each piece that is missing.
This module imports nothing of Django's app registry, so settings may import it. DRF's classes are set on
the API's own base view (engine/api/base.py): of a host's REST_FRAMEWORK DATP needs only drf-spectacular's
DEFAULT_SCHEMA_CLASS.
"""
import os

# Django's own apps the console needs (log-in, sessions, messages, its static files), then DATP's.
# Tuples, and the dict is to be copied ({**datp.SPECTACULAR_SETTINGS, ...}): a host's additions stay its own.
CONTRIB_APPS = (
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
)
APPS = ("rest_framework", "drf_spectacular", "drf_spectacular_sidecar", "django_q", "axes", "engine", "monitoring")

# Single strings (not lists): MIDDLEWARE.insert(..., datp.API_MIDDLEWARE), MIDDLEWARE.append(datp.AXES_MIDDLEWARE).
API_MIDDLEWARE = "engine.api.middleware.ApiMiddleware"
AXES_MIDDLEWARE = "axes.middleware.AxesMiddleware"
SECURITY_MIDDLEWARE = "django.middleware.security.SecurityMiddleware"
CSP_MIDDLEWARE = "csp.middleware.CSPMiddleware"
X_FRAME_MIDDLEWARE = "django.middleware.clickjacking.XFrameOptionsMiddleware"
CSRF_MIDDLEWARE = "django.middleware.csrf.CsrfViewMiddleware"
# The security headers' middleware (spec S5: nosniff, Referrer-Policy, X-Frame-Options, the CSP below).
HEADER_MIDDLEWARE = (SECURITY_MIDDLEWARE, CSP_MIDDLEWARE, X_FRAME_MIDDLEWARE)
# Everything the API and the console need, in order: the header middleware first, so every response
# carries their headers (the API's early refusals too); API_MIDDLEWARE next, before the session, common
# and CSRF middleware, so an oversized or unstorable API request is refused before any of them reads it
# (CsrfViewMiddleware reads a POST's form body); AXES_MIDDLEWARE last, as django-axes asks.
MIDDLEWARE = (
    *HEADER_MIDDLEWARE,
    API_MIDDLEWARE,
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    CSRF_MIDDLEWARE,
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    AXES_MIDDLEWARE,
)

# django-csp's policy for CSP_MIDDLEWARE: scripts, styles and fonts from this site only (no inline script,
# no eval), no framing. The console and Swagger UI at /api/docs/ work under it. Without the setting,
# CSPMiddleware sends no header. To widen it, copy it:
# {"DIRECTIVES": {**datp.CONTENT_SECURITY_POLICY["DIRECTIVES"], "img-src": [...]}}.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

CONTEXT_PROCESSORS = (
    "django.template.context_processors.request",
    "django.contrib.auth.context_processors.auth",
    "django.contrib.messages.context_processors.messages",
    "monitoring.context_processors.console",
    "monitoring.context_processors.limits",
)

# django-axes counts failed console log-ins; its backend must come first.
AUTHENTICATION_BACKENDS = ("axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend")
LOGIN_URL = "/mondat/login/"

# drf-spectacular's own install line; DRF's other classes are set on DATP's views (engine/api/base.py).
REST_FRAMEWORK = {"DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema"}

# The OpenAPI 3 document at /api/schema/ (Swagger UI at /api/docs/), generated from the views.
SPECTACULAR_SETTINGS = {
    "TITLE": "DATP API",
    "DESCRIPTION": "The REST API of DATP for Django.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PUBLIC": True,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "DEFAULT_GENERATOR_CLASS": "engine.api.schema.DatpSchemaGenerator",
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    # The Bearer security scheme ("ApiKey") comes from the extension in engine/api/schema.py.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}


def q_cluster(*, workers=None, broker="orm", redis_url=None, sync=False):
    """The Q_CLUSTER setting for django-q2, which reads it when imported.

    A node names its node group in Q_CLUSTER_NAME (the node command sets it for each cluster it starts), and
    django-q2 then takes that group's entry of ALT_CLUSTERS: so the entry is built here from the environment.
    `broker` is "orm" (the database, woken by LISTEN/NOTIFY on PostgreSQL) or "redis" (`redis_url`).
    `sync=True` runs tasks in the calling process (tests).
    """
    workers = int(workers if workers is not None else os.environ.get("DATP_WORKERS", "2"))
    group = os.environ.get("Q_CLUSTER_NAME", "master")
    cluster = {
        "name": "datp",
        "orm": "default",
        "broker_class": "engine.runtime.broker.ListenBroker",
        "workers": workers,
        # Drains are short and idempotent: a generous task timeout (a step running 50 minutes is killed
        # and recovered), a late redelivery is harmless, and a failed drain is not retried (the node
        # queues new ones).
        "timeout": 3000,
        "retry": 3600,
        "max_attempts": 1,
        "ack_failures": True,
        "save_limit": -1,
        "poll": 0.05,
        "catch_up": False,
        "scheduler": False,
        "ALT_CLUSTERS": {group: {"workers": workers}},
    }
    if broker == "redis":
        cluster.pop("orm")
        cluster.pop("broker_class")
        cluster["redis"] = redis_url or os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    if sync:
        cluster["sync"] = True
    return cluster
