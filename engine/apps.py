"""The engine app: its only wiring point is ready(), which loads step types and system checks."""
from django.apps import AppConfig


class EngineConfig(AppConfig):
    name = "engine"
    verbose_name = "DATP engine"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from engine import checks  # noqa: F401  (registers the system checks)
        from engine.steps.registry import autodiscover

        autodiscover()
