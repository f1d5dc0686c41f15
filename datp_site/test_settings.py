"""Settings for the test suite: the engine runs in-process, django-q2 in sync mode (set before import)."""
import os

os.environ.setdefault("DATP_DISPATCHER", "inline")

from datp_site.settings import *  # noqa: E402,F401,F403
from datp_site.settings import DATABASES, DATP, Q_CLUSTER  # noqa: E402

Q_CLUSTER["sync"] = True
DATP["DISPATCHER"] = "inline"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Tests get their own file, so a developer's var/datp.sqlite3 is never touched.
    DATABASES["default"]["TEST"] = {"NAME": None}
