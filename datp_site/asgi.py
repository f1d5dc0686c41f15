"""ASGI entry point."""
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "datp_site.settings")
application = get_asgi_application()

from engine.checks import refuse_bad_settings  # noqa: E402  (after set-up: the apps are loaded)

refuse_bad_settings()
