"""System checks of a host project's settings (ids datp.E010-E018, datp.W010): each names a piece DATP needs
that the host lacks, with the line to add (docs/install.md; the values live in engine/setup.py).

django-axes checks its own middleware and backend (axes.W002, axes.W003); these do not repeat them.
"""
import os
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.core.checks import Error, Warning, register
from django.urls import NoReverseMatch, reverse

from engine import setup

URLS_LINE = 'path("", include("engine.urls")) in your ROOT_URLCONF\'s urlpatterns'


@register()
def installed_apps(app_configs=None, **kwargs):
    """datp.E010: an app the engine or its console needs is not in INSTALLED_APPS."""
    return [Error(f"{name!r} is not in INSTALLED_APPS; DATP needs it.",
                  hint=f'Add "{name}" to INSTALLED_APPS (all of DATP\'s: INSTALLED_APPS += engine.setup.APPS).',
                  id="datp.E010")
            for name in (*setup.CONTRIB_APPS, *setup.APPS) if not apps.is_installed(name)]


def _middleware_needed():
    needed = [setup.API_MIDDLEWARE]
    if apps.is_installed("monitoring"):
        needed += [name for name in setup.MIDDLEWARE if name.startswith("django.contrib.")]
    return needed


@register()
def middleware(app_configs=None, **kwargs):
    """datp.E011: a middleware the API or the console needs is not in MIDDLEWARE."""
    present = list(getattr(settings, "MIDDLEWARE", None) or [])
    return [Error(f"{name!r} is not in MIDDLEWARE; DATP needs it.",
                  hint=f'Add "{name}" to MIDDLEWARE (engine.setup.MIDDLEWARE lists them all in order).',
                  id="datp.E011")
            for name in _middleware_needed() if name not in present]


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


@register()
def spectacular_settings(app_configs=None, **kwargs):
    """datp.W010: an SPECTACULAR_SETTINGS entry the OpenAPI document at /api/schema/ relies on is missing or
    different (drf-spectacular reads them globally)."""
    present = getattr(settings, "SPECTACULAR_SETTINGS", None) or {}
    return [Warning(f"SPECTACULAR_SETTINGS[{key!r}] is {present.get(key)!r}; DATP's OpenAPI document needs {value!r}.",
                    hint=f"SPECTACULAR_SETTINGS = {{**engine.setup.SPECTACULAR_SETTINGS, ...}} "
                         f"(or SPECTACULAR_SETTINGS[{key!r}] = {value!r})",
                    id="datp.W010")
            for key, value in setup.SPECTACULAR_SETTINGS.items()
            if key not in ("TITLE", "DESCRIPTION", "VERSION") and present.get(key) != value]


def _resolves(name, path):
    try:
        return reverse(name) == path
    except NoReverseMatch:
        return False


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
    elsewhere."""
    if not apps.is_installed("monitoring") or not _resolves("mondat:login", setup.LOGIN_URL):
        return []  # without the console's URLs, datp.E015 says what to do
    if str(settings.LOGIN_URL) in (setup.LOGIN_URL, "mondat:login"):
        return []
    return [Error(f"LOGIN_URL is {settings.LOGIN_URL!r}; the console's log-in page is {setup.LOGIN_URL!r}.",
                  hint=f"LOGIN_URL = {setup.LOGIN_URL!r}", id="datp.E017")]


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
