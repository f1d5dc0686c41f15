"""System checks of a host project's settings (ids datp.E010-E019, datp.W010-W011): each names a piece DATP
needs that the host lacks, with the line to add (docs/install.md; the values live in engine/setup.py). Each
check stands alone, so the first `manage.py check` names every missing piece at once.

django-axes' own checks (axes.W002, axes.W003) say the same of its middleware and backend without the line
to add; datp.E011 and datp.E019 give it.
"""
import os
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.core.checks import Error, Warning, register
from django.urls import NoReverseMatch, reverse
from django.utils.module_loading import import_string

from engine import setup

URLS_LINE = 'path("", include("engine.urls")) in your ROOT_URLCONF\'s urlpatterns'


@register()
def installed_apps(app_configs=None, **kwargs):
    """datp.E010: an app the engine or its console needs is not in INSTALLED_APPS."""
    return [Error(f"{name!r} is not in INSTALLED_APPS; DATP needs it.",
                  hint=f'Add "{name}" to INSTALLED_APPS (all of DATP\'s: INSTALLED_APPS += engine.setup.APPS).',
                  id="datp.E010")
            for name in (*setup.CONTRIB_APPS, *setup.APPS) if not apps.is_installed(name)]


MIDDLEWARE_HINTS = {
    setup.API_MIDDLEWARE: f'Insert "{setup.API_MIDDLEWARE}" (engine.setup.API_MIDDLEWARE, one string) into MIDDLEWARE '
                          'after SecurityMiddleware and before SessionMiddleware; or MIDDLEWARE = '
                          '[*engine.setup.MIDDLEWARE].',
    setup.AXES_MIDDLEWARE: f'Append "{setup.AXES_MIDDLEWARE}" (engine.setup.AXES_MIDDLEWARE, one string) to '
                           'MIDDLEWARE, last.',
}
# The API's middleware refuses an oversized or unstorable request before these read it (CSRF: a POST's form).
READ_BEFORE_API = ("django.contrib.sessions.middleware.SessionMiddleware", "django.middleware.common.CommonMiddleware",
                   setup.CSRF_MIDDLEWARE)


def _middleware_needed():
    needed = [setup.API_MIDDLEWARE, setup.AXES_MIDDLEWARE]
    if apps.is_installed("monitoring"):
        needed += [name for name in setup.MIDDLEWARE
                   if name.startswith("django.contrib.") or name == setup.CSRF_MIDDLEWARE]
    return needed


def _present_middleware():
    return list(getattr(settings, "MIDDLEWARE", None) or [])


@register()
def middleware(app_configs=None, **kwargs):
    """datp.E011: a middleware the API or the console needs is not in MIDDLEWARE, or the API's comes after one
    that reads the request before it may refuse it."""
    present = _present_middleware()
    errors = [Error(f"{name!r} is not in MIDDLEWARE; DATP needs it.",
                    hint=MIDDLEWARE_HINTS.get(
                        name, f'Add "{name}" to MIDDLEWARE (engine.setup.MIDDLEWARE lists them all in order).'),
                    id="datp.E011")
              for name in _middleware_needed() if name not in present]
    if setup.API_MIDDLEWARE in present:
        api = present.index(setup.API_MIDDLEWARE)
        errors += [Error(f"{setup.API_MIDDLEWARE!r} comes after {name!r} in MIDDLEWARE; it must come before it, "
                         "so that an oversized or unstorable API request is refused before anything reads it.",
                         hint=MIDDLEWARE_HINTS[setup.API_MIDDLEWARE], id="datp.E011")
                   for name in READ_BEFORE_API if name in present[:api]]
    return errors


@register()
def security_headers(app_configs=None, **kwargs):
    """datp.W011: a middleware that sends the security headers the console and the API are meant to carry
    (nosniff, Referrer-Policy, X-Frame-Options, Content-Security-Policy) is not in MIDDLEWARE, or the CSP
    middleware has no policy to send."""
    present = _present_middleware()
    warnings = [Warning(f"{name!r} is not in MIDDLEWARE: DATP's pages and API answers go without its security "
                        "headers.",
                        hint=f'Add "{name}" to MIDDLEWARE before "{setup.API_MIDDLEWARE}" (engine.setup.MIDDLEWARE '
                             'lists them all in order).', id="datp.W011")
                for name in setup.HEADER_MIDDLEWARE if name not in present]
    if setup.CSP_MIDDLEWARE in present and not getattr(settings, "CONTENT_SECURITY_POLICY", None):
        warnings.append(Warning("CONTENT_SECURITY_POLICY is not set: CSPMiddleware sends no Content-Security-Policy.",
                                hint="CONTENT_SECURITY_POLICY = engine.setup.CONTENT_SECURITY_POLICY",
                                id="datp.W011"))
    return warnings


@register()
def authentication_backends(app_configs=None, **kwargs):
    """datp.E019: django-axes' backend is not the first of AUTHENTICATION_BACKENDS, so failed console log-ins
    are not counted (missing) or a backend before it lets a locked-out user in (not first)."""
    backends = list(getattr(settings, "AUTHENTICATION_BACKENDS", None) or [])
    axes = [index for index, name in enumerate(backends) if _is_axes_backend(name)]
    if axes[:1] == [0]:
        return []
    first = setup.AUTHENTICATION_BACKENDS[0]
    where = (f"comes after {backends[0]!r} in AUTHENTICATION_BACKENDS, which would let a locked-out user in"
             if axes else "is not in AUTHENTICATION_BACKENDS; failed console log-ins would not be counted")
    return [Error(f"django-axes' backend {first!r} {where}.",
                  hint=f"AUTHENTICATION_BACKENDS = [*engine.setup.AUTHENTICATION_BACKENDS] (or insert {first!r} "
                       "first in yours)", id="datp.E019")]


def _is_axes_backend(name):
    try:
        backend = import_string(name)
    except ImportError:
        return False
    return isinstance(backend, type) and issubclass(backend, import_string(setup.AUTHENTICATION_BACKENDS[0]))


@register()
def q_cluster(app_configs=None, **kwargs):
    """datp.E012: Q_CLUSTER is missing or not a dict; datp.E013: its ALT_CLUSTERS has no entry for this node
    group (Q_CLUSTER_NAME), so a node's cluster would run with the wrong settings."""
    cluster = getattr(settings, "Q_CLUSTER", None)
    if not isinstance(cluster, dict):
        return [Error(f"Q_CLUSTER is {'missing' if cluster is None else 'not a dict'}; DATP runs its steps "
                      "through django-q2 clusters.",
                      hint="Q_CLUSTER = engine.setup.q_cluster()", id="datp.E012")]
    group = os.environ.get("Q_CLUSTER_NAME", "master")
    alt = cluster.get("ALT_CLUSTERS")
    if not isinstance(alt, dict) or group not in alt:
        return [Error(f"Q_CLUSTER['ALT_CLUSTERS'] has no entry for the node group {group!r} (Q_CLUSTER_NAME); "
                      "a node starts one cluster per node group and names it so.",
                      hint='Q_CLUSTER = engine.setup.q_cluster() (it builds ALT_CLUSTERS from Q_CLUSTER_NAME), or '
                           'Q_CLUSTER["ALT_CLUSTERS"] = {os.environ.get("Q_CLUSTER_NAME", "master"): {}}',
                      id="datp.E013")]
    return []


@register()
def schema_class(app_configs=None, **kwargs):
    """datp.E014: REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"] is not drf-spectacular's, which its @extend_schema on
    DATP's views reads when they are imported (the one DRF setting DATP needs globally)."""
    wanted = setup.REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"]
    present = (getattr(settings, "REST_FRAMEWORK", None) or {}).get("DEFAULT_SCHEMA_CLASS")
    if present == wanted:
        return []
    return [Error(f"REST_FRAMEWORK['DEFAULT_SCHEMA_CLASS'] is {present!r}; DATP's API documents itself with "
                  f"drf-spectacular, which needs {wanted!r}.",
                  hint=f'REST_FRAMEWORK = {{..., "DEFAULT_SCHEMA_CLASS": "{wanted}"}}', id="datp.E014")]


MISSING = object()


@register()
def spectacular_settings(app_configs=None, **kwargs):
    """datp.W010: SPECTACULAR_SETTINGS lacks or changes entries the OpenAPI document at /api/schema/ relies on
    (drf-spectacular reads them globally): one warning naming each."""
    present = getattr(settings, "SPECTACULAR_SETTINGS", None)
    if not present:
        return [Warning("SPECTACULAR_SETTINGS is not set; DATP's OpenAPI document needs the entries of "
                        "engine.setup.SPECTACULAR_SETTINGS.",
                        hint="SPECTACULAR_SETTINGS = {**engine.setup.SPECTACULAR_SETTINGS, ...}", id="datp.W010")]
    differ = [f"{key!r} is {'not set' if present.get(key, MISSING) is MISSING else repr(present[key])} "
              f"(DATP needs {value!r})"
              for key, value in setup.SPECTACULAR_SETTINGS.items()
              if key not in ("TITLE", "DESCRIPTION", "VERSION") and present.get(key, MISSING) != value]
    if not differ:
        return []
    return [Warning(f"SPECTACULAR_SETTINGS differs from what DATP's OpenAPI document needs: {'; '.join(differ)}.",
                    hint="SPECTACULAR_SETTINGS = {**engine.setup.SPECTACULAR_SETTINGS, ...}", id="datp.W010")]


def _resolves(name, path):
    return _reversed(name) == path


@register()
def urls(app_configs=None, **kwargs):
    """datp.E015: DATP's URLs are not included at the root of the site (the API answers under /api/v1/)."""
    wanted = [("api:health", "/api/v1/health")]
    if apps.is_installed("monitoring"):
        wanted.append(("mondat:dashboard", "/mondat/"))
    missing = [path for name, path in wanted if not _resolves(name, path)]
    if not missing:
        return []
    return [Error(f"DATP's URLs are not served: {', '.join(missing)} does not resolve.",
                  hint=f"Add {URLS_LINE}.", id="datp.E015")]


@register()
def templates(app_configs=None, **kwargs):
    """datp.E016: the console's pages would not render: no Django template engine reads the apps'
    templates, or it lacks a context processor they use."""
    if not apps.is_installed("monitoring"):
        return []
    engines = [engine for engine in getattr(settings, "TEMPLATES", [])
               if engine.get("BACKEND") == "django.template.backends.django.DjangoTemplates"]
    if not engines or not any(engine.get("APP_DIRS") for engine in engines):
        return [Error("No DjangoTemplates engine with APP_DIRS = True: the console's templates are not found.",
                      hint='TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates", '
                           '"APP_DIRS": True, "OPTIONS": {"context_processors": engine.setup.CONTEXT_PROCESSORS}}]',
                      id="datp.E016")]
    present = engines[0].get("OPTIONS", {}).get("context_processors", [])
    return [Error(f"{name!r} is not in TEMPLATES[0]['OPTIONS']['context_processors']; the console needs it.",
                  hint=f'Add "{name}" (all: TEMPLATES[0]["OPTIONS"]["context_processors"] += '
                       'engine.setup.CONTEXT_PROCESSORS).', id="datp.E016")
            for name in setup.CONTEXT_PROCESSORS if name not in present]


@register()
def login_url(app_configs=None, **kwargs):
    """datp.E017: LOGIN_URL does not lead to the console's log-in page, so a signed-out operator is sent
    elsewhere. Compared with the console's fixed path, so it is named whether or not the URLs are included yet."""
    if not apps.is_installed("monitoring"):
        return []
    value = str(getattr(settings, "LOGIN_URL", ""))
    if value in (setup.LOGIN_URL, "mondat:login") or _reversed(value) == setup.LOGIN_URL:
        return []
    return [Error(f"LOGIN_URL is {value!r}; the console's log-in page is {setup.LOGIN_URL!r}.",
                  hint=f"LOGIN_URL = {setup.LOGIN_URL!r} (engine.setup.LOGIN_URL)", id="datp.E017")]


def _reversed(name):
    """The path a URL name leads to; None when it names none."""
    try:
        return reverse(name)
    except NoReverseMatch:
        return None


@register()
def manage_py(app_configs=None, **kwargs):
    """datp.E018: BASE_DIR does not hold the project's manage.py, which the node and datp_run start their
    clusters and servers with."""
    base = getattr(settings, "BASE_DIR", None)
    if base is not None and (Path(base) / "manage.py").is_file():
        return []
    return [Error(f"BASE_DIR is {base!r}, which holds no manage.py; the node starts its clusters with "
                  "BASE_DIR/manage.py.",
                  hint="BASE_DIR = Path(__file__).resolve().parent.parent (the folder of manage.py)",
                  id="datp.E018")]
