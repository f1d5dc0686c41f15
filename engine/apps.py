"""The engine app: its only wiring point is ready(), which loads step types and system checks."""
from django.apps import AppConfig


class EngineConfig(AppConfig):
    name = "engine"
    verbose_name = "DATP engine"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Imported in ready(): both load the models, which may not be imported before the app registry
        # is; importing the checks registers them, and autodiscover imports every app's step types.
        from engine import checks, checks_host  # noqa: F401
        from engine.steps.registry import autodiscover

        autodiscover()
