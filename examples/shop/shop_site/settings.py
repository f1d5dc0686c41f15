"""A host project's settings with DATP added (docs/install.md): the lines marked DATP are all it takes."""
import os
from pathlib import Path

from engine import setup as datp  # DATP

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("SHOP_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "shop-example-not-secret")
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = [
    "django.contrib.admin",
    *datp.CONTRIB_APPS,  # auth, contenttypes, sessions, messages, staticfiles
    *datp.APPS,  # DATP: rest_framework, drf_spectacular(_sidecar), django_q, axes, engine, monitoring
    "shop",
]
MIDDLEWARE = [*datp.MIDDLEWARE]  # DATP: Django's usual ones, CSP, ApiMiddleware and AxesMiddleware in place
CONTENT_SECURITY_POLICY = datp.CONTENT_SECURITY_POLICY  # DATP: the policy CSPMiddleware sends
ROOT_URLCONF = "shop_site.urls"
TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "APP_DIRS": True,
    "OPTIONS": {"context_processors": [*datp.CONTEXT_PROCESSORS]},  # DATP
}]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": VAR_DIR / "shop.sqlite3",
                         "OPTIONS": {"timeout": 30, "transaction_mode": "IMMEDIATE",
                                     "init_command": "PRAGMA journal_mode=WAL;"}}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
STATIC_URL = "static/"

AUTHENTICATION_BACKENDS = [*datp.AUTHENTICATION_BACKENDS]  # DATP
REST_FRAMEWORK = {**datp.REST_FRAMEWORK}  # DATP: drf-spectacular's DEFAULT_SCHEMA_CLASS
SPECTACULAR_SETTINGS = {**datp.SPECTACULAR_SETTINGS, "TITLE": "Shop API"}  # DATP
LOGIN_URL = datp.LOGIN_URL  # DATP
Q_CLUSTER = datp.q_cluster()  # DATP
DATP = {"WEBHOOK_ALLOW_PRIVATE_NETWORKS": True}  # DATP: the engine's own settings (defaults: engine/conf.py)
