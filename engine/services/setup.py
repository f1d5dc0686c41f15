"""First-run set-up for `make run`: an admin user and a demo owner with a system API key."""
import secrets

from django.contrib.auth import get_user_model
from django.db import transaction

from engine.services.owners import api_key_create


def demo_setup(*, owner="demo", username="admin"):
    """Create the superuser and the demo owner's system key if there is no superuser yet.

    Returns {"username", "password", "owner", "api_key"} on the first run, None afterwards.
    """
    users = get_user_model().objects
    if users.filter(is_superuser=True).exists():
        return None
    password = secrets.token_urlsafe(12)
    with transaction.atomic():
        user = users.create_superuser(username=username, email="", password=password)
        key, raw = api_key_create(owner=owner, name="demo", system=True)
        # A member of the demo owner, so the API used from a console session acts for it by default.
        key.owner.members.add(user)
    return {"username": username, "password": password, "owner": owner, "api_key": raw}
