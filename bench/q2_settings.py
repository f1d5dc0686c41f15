"""Settings of the bare django-q2 reference: only django_q, the ORM broker on the bench's PostgreSQL.

Configured as django-q2's documentation advises for the ORM broker (CONN_MAX_AGE > 0, save_limit 0),
with as many workers as the engine's bench node.
"""
import os

import dj_database_url

SECRET_KEY = "datp-bench-q2-reference"
INSTALLED_APPS = ["django.contrib.contenttypes", "django_q"]
DATABASES = {"default": dj_database_url.parse(os.environ["Q2_DATABASE_URL"], conn_max_age=60)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"
Q_CLUSTER = {
    "name": "bench",
    "orm": "default",
    "workers": int(os.environ.get("Q2_WORKERS", "2")),
    "save_limit": 0,
    "timeout": 60,
    "retry": 120,
    "poll": 0.2,
    "log_level": "WARNING",
}
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING"}}
