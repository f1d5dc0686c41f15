"""The Django admin for system users: one module per area; django-q2 registers its own models."""
from monitoring.admin import fan_outs, owners, pipelines, records, schedules, transactions  # noqa: F401
