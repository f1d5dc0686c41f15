"""MONDAT, the operations console (its pages arrive with the console issue)."""
from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "monitoring"
    verbose_name = "MONDAT"
