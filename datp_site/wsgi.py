"""WSGI entry point (gunicorn datp_site.wsgi)."""
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "datp_site.settings")
application = get_wsgi_application()

from engine.checks import refuse_bad_settings  # noqa: E402  (after set-up: the apps are loaded)

refuse_bad_settings()
