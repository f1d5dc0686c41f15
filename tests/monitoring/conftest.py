"""Console fixtures: users in each role, members of owners, logged in; the API's example pipelines loaded."""
import pytest
from django.contrib.auth.models import Group, User
from django.test import Client

from engine.services.owners import owner_ensure
from tests.api.conftest import PIPELINES


def make_user(username, role=None, owners=(), superuser=False):
    """A user with the console `role` (a Django group) and membership of `owners`."""
    user = User.objects.create_user(username=username, password="pw-" + username, is_superuser=superuser,
                                    is_staff=superuser)
    if role:
        user.groups.add(Group.objects.get(name=f"mondat-{role}"))
    for owner in owners:
        owner_ensure(name=owner).members.add(user)
    return user


def login(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def world(harness):
    """The harness (owner "test") with the example pipelines loaded, and a second owner "other"."""
    harness.load(*PIPELINES)
    owner_ensure(name="other")
    return harness


@pytest.fixture
def viewer(world):
    return login(make_user("vera", "viewer", [world.owner]))


@pytest.fixture
def operator(world):
    return login(make_user("otto", "operator", [world.owner]))


@pytest.fixture
def owner_admin(world):
    return login(make_user("ada", "admin", [world.owner]))


@pytest.fixture
def system_user(world):
    return login(make_user("sys", "system"))


@pytest.fixture
def other_operator(world):
    """An operator of the other owner only: the harness owner's data must be a 404 to them."""
    return login(make_user("olga", "operator", ["other"]))
