"""MONDAT's Owner settings page: API keys and the webhook secret; admins create (shown once), revoke, rotate."""
import hashlib
import logging
import re

import pytest
from rest_framework.test import APIClient

from engine.models import ApiKey, JournalEntry, Owner
from engine.services.owners import api_key_create
from tests.monitoring.conftest import login, make_user


@pytest.fixture
def keys(world):
    """A key of the harness's owner and one of the other owner."""
    mine, _ = api_key_create(owner=world.owner, name="billing <app>")
    theirs, _ = api_key_create(owner="other", name="their-app")
    return mine, theirs


def _api_status(raw):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client.get("/api/v1/transactions").status_code


def _secret(owner):
    return Owner.objects.get(pk=owner).webhook_secret


def test_viewers_and_operators_see_the_keys_but_neither_secret_nor_buttons(world, viewer, operator, keys,
                                                                           django_assert_max_num_queries):
    for client in (viewer, operator):
        with django_assert_max_num_queries(8):
            response = client.get("/mondat/owners/")
        assert response.status_code == 200
        html = response.content.decode()
        assert "billing &lt;app&gt;" in html and keys[0].prefix in html
        assert "their-app" not in html
        assert _secret(world.owner) not in html
        assert ">Reveal<" not in html and ">Revoke<" not in html and "Create a key" not in html
        assert [owner.name for owner in response.context["owners"]] == [world.owner]


def test_an_admin_sees_the_secret_masked_and_reveals_it_uncached(world, owner_admin, keys):
    page = owner_admin.get("/mondat/owners/")
    html = page.content.decode()
    assert _secret(world.owner) not in html
    assert ">Reveal<" in html and ">Revoke<" in html and "Rotate the secret" in html
    fragment = owner_admin.get(f"/mondat/owners/{world.owner}/secret/", HTTP_HX_REQUEST="true")
    assert fragment.status_code == 200
    assert _secret(world.owner) in fragment.content.decode()
    assert "<html" not in fragment.content.decode()
    assert "no-store" in fragment["Cache-Control"]
    full = owner_admin.get(f"/mondat/owners/{world.owner}/secret/")
    assert "<html" in full.content.decode() and _secret(world.owner) in full.content.decode()


def test_only_admins_of_the_owner_reveal_its_secret(world, operator, owner_admin, system_user):
    assert operator.get(f"/mondat/owners/{world.owner}/secret/").status_code == 403
    assert owner_admin.get("/mondat/owners/other/secret/").status_code == 404
    assert system_user.get("/mondat/owners/other/secret/").status_code == 200
    assert system_user.get("/mondat/owners/nobody/secret/").status_code == 404


def test_a_new_key_is_shown_once_authenticates_and_is_stored_only_as_its_hash(world, owner_admin, caplog):
    caplog.set_level(logging.DEBUG)
    journal_before = JournalEntry.objects.count()
    response = owner_admin.post(f"/mondat/owners/{world.owner}/keys/", {"name": "new-app"})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    raw = re.search(r'<code id="new-key">([^<]+)</code>', response.content.decode()).group(1)
    key = ApiKey.objects.get(owner_id=world.owner, name="new-app")
    assert key.key_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert key.is_system is False
    assert _api_status(raw) == 200
    again = owner_admin.get("/mondat/owners/")
    assert raw not in again.content.decode() and "new-app" in again.content.decode()
    assert all(raw not in record.getMessage() for record in caplog.records)
    assert JournalEntry.objects.count() == journal_before


def test_revoking_a_key_makes_the_api_answer_401(world, owner_admin):
    key, raw = api_key_create(owner=world.owner, name="doomed")
    assert _api_status(raw) == 200
    response = owner_admin.post(f"/mondat/owners/{world.owner}/keys/{key.pk}/revoke/")
    assert response.status_code == 302
    assert _api_status(raw) == 401
    assert ApiKey.objects.get(pk=key.pk).revoked_at is not None
    assert b"revoked" in owner_admin.get("/mondat/owners/").content
    assert owner_admin.post(f"/mondat/owners/{world.owner}/keys/{key.pk}/revoke/").status_code == 404


def test_rotating_changes_the_webhook_secret_and_logs_no_secret(world, owner_admin, caplog):
    caplog.set_level(logging.DEBUG)
    before = _secret(world.owner)
    response = owner_admin.post(f"/mondat/owners/{world.owner}/secret/rotate/")
    assert response.status_code == 302
    after = _secret(world.owner)
    assert after != before and len(after) == 64
    page = owner_admin.get(response["Location"])
    assert after not in page.content.decode() and "is rotated" in page.content.decode()
    assert all(after not in record.getMessage() for record in caplog.records)


def test_operators_cannot_manage_keys_or_the_secret(world, operator, keys):
    mine, _ = keys
    secret = _secret(world.owner)
    assert operator.post(f"/mondat/owners/{world.owner}/keys/", {"name": "sneaky"}).status_code == 403
    assert operator.post(f"/mondat/owners/{world.owner}/keys/{mine.pk}/revoke/").status_code == 403
    assert operator.post(f"/mondat/owners/{world.owner}/secret/rotate/").status_code == 403
    assert not ApiKey.objects.filter(name="sneaky").exists()
    assert ApiKey.objects.get(pk=mine.pk).revoked_at is None
    assert _secret(world.owner) == secret


def test_an_admin_gets_404_for_another_owners_keys_and_secret(world, owner_admin, keys):
    _, theirs = keys
    secret = _secret("other")
    assert owner_admin.post("/mondat/owners/other/keys/", {"name": "intruder"}).status_code == 404
    assert owner_admin.post(f"/mondat/owners/other/keys/{theirs.pk}/revoke/").status_code == 404
    assert owner_admin.post(f"/mondat/owners/{world.owner}/keys/{theirs.pk}/revoke/").status_code == 404
    assert owner_admin.post("/mondat/owners/other/secret/rotate/").status_code == 404
    assert ApiKey.objects.get(pk=theirs.pk).revoked_at is None
    assert not ApiKey.objects.filter(name="intruder").exists()
    assert _secret("other") == secret


def test_only_system_users_create_system_keys(world, owner_admin, system_user):
    refused = owner_admin.post(f"/mondat/owners/{world.owner}/keys/", {"name": "root", "system": "on"})
    assert refused.status_code == 403
    assert b'name="system"' not in owner_admin.get("/mondat/owners/").content
    created = system_user.post(f"/mondat/owners/{world.owner}/keys/", {"name": "root", "system": "on"})
    assert created.status_code == 200
    assert ApiKey.objects.get(name="root").is_system is True
    assert system_user.post("/mondat/owners/nobody/keys/", {"name": "x"}).status_code == 404
    assert not Owner.objects.filter(pk="nobody").exists()


def test_a_key_needs_a_name(world, owner_admin):
    response = owner_admin.post(f"/mondat/owners/{world.owner}/keys/", {"name": "  "})
    assert response.status_code == 400
    assert b"A key needs a name" in response.content
    assert not ApiKey.objects.filter(owner_id=world.owner).exists()


def test_a_system_user_sees_every_owner_and_an_admin_of_two_owners_sees_both(world, system_user):
    names = [owner.name for owner in system_user.get("/mondat/owners/").context["owners"]]
    assert names == sorted(Owner.objects.values_list("name", flat=True))
    both = login(make_user("bea", "admin", [world.owner, "other"]))
    assert [owner.name for owner in both.get("/mondat/owners/").context["owners"]] == ["other", world.owner]
