"""The Django admin: system users only, every registered table opens, keys shown once, actions journaled."""
import re

import pytest
from django.contrib import admin
from django.urls import reverse
from rest_framework.test import APIClient

from engine.models import ApiKey, JournalEntry, NodeGroup, PipelineVersion
from engine.services.owners import api_key_create
from tests.monitoring.conftest import login, make_user


@pytest.fixture
def su(world):
    return login(make_user("root", superuser=True))


@pytest.fixture
def full_world(world):
    """One transaction in most states, so every table has rows."""
    ids = {
        "sleeping": world.start("approval", {"n": 1}, external_id="order-42"),
        "failed": world.start("failing", {}),
        "done": world.start("echo", {"hello": "<b>world</b>"}),
        "hooked": world.start("hooked", {}),
        "nap": world.start("nap", {}),
    }
    world.settle()
    world.set_global_switch("maintenance", True)
    api_key_create(owner=world.owner, name="app")
    return world, ids


def engine_models():
    return [model for model in admin.site._registry if model._meta.app_label in ("engine", "django_q")]


def test_every_changelist_and_a_change_page_open_for_a_superuser(su, full_world):
    for model in engine_models():
        meta = model._meta
        url = reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")
        response = su.get(url)
        assert response.status_code == 200, url
        obj = model.objects.first()
        if obj is not None:
            change = reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk])
            assert su.get(change).status_code == 200, change


def test_the_engine_tables_are_all_registered(su):
    names = {model.__name__ for model in engine_models()}
    assert {"Owner", "ApiKey", "NodeGroup", "Pipeline", "PipelineVersion", "Transaction", "StepRun", "Switch",
            "Sleeper", "Callback", "JournalEntry", "WebhookDelivery", "BulkJob", "Schedule", "OrmQ"} <= names


def test_a_user_who_is_not_staff_is_sent_to_the_admin_login(operator, viewer):
    for client in (operator, viewer):
        response = client.get("/admin/engine/transaction/")
        assert response.status_code == 302
        assert response.url.startswith("/admin/login/")


def test_staff_without_the_system_role_sees_no_engine_table(world):
    user = make_user("staffer", "admin", [world.owner])
    user.is_staff = True
    user.save()
    client = login(user)
    assert client.get("/admin/engine/transaction/").status_code == 403
    assert b"engine/transaction" not in client.get("/admin/").content


def test_a_member_of_the_system_group_with_staff_may_use_the_admin(world):
    user = make_user("sysstaff", "system")
    user.is_staff = True
    user.save()
    assert login(user).get("/admin/engine/transaction/").status_code == 200


def test_the_engine_records_offer_no_add_nor_delete(su, full_world):
    _, ids = full_world
    assert su.get("/admin/engine/transaction/add/").status_code == 403
    assert su.post(f"/admin/engine/transaction/{ids['done']}/delete/").status_code == 403
    assert su.get("/admin/engine/pipelineversion/add/").status_code == 403
    assert su.get("/admin/engine/journalentry/add/").status_code == 403


def test_a_new_api_key_is_shown_once_and_works(su, world):
    response = su.post("/admin/engine/apikey/add/", {"owner": world.owner, "name": "console-made"}, follow=True)
    assert response.status_code == 200
    shown = re.findall(r"datp_[A-Za-z0-9_-]{20,}", response.content.decode())
    assert len(shown) == 1
    raw = shown[0]
    key = ApiKey.objects.get(name="console-made")
    assert key.prefix == raw[:12] and raw not in key.key_hash
    again = su.get(f"/admin/engine/apikey/{key.pk}/change/").content.decode()
    assert raw not in again and key.prefix in again
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.get("/api/v1/transactions").status_code == 200


def test_the_revoke_action_revokes_a_key_through_the_service(su, world):
    key, raw = api_key_create(owner=world.owner, name="old")
    response = su.post("/admin/engine/apikey/", {"action": "revoke", "_selected_action": [key.pk]}, follow=True)
    assert "1 API key(s) revoked." in response.content.decode()
    key.refresh_from_db()
    assert key.revoked_at is not None
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.get("/api/v1/transactions").status_code == 401


def test_an_owner_is_added_with_its_members_through_the_service(su, world):
    member = make_user("mia", "viewer")
    response = su.post("/admin/engine/owner/add/", {"name": "acme", "description": "Acme", "members": [member.pk]})
    assert response.status_code == 302
    owner = member.datp_owners.get()
    assert owner.name == "acme" and len(owner.webhook_secret) == 64 and owner.created_at is not None
    bad = su.post("/admin/engine/owner/add/", {"name": "no spaces", "description": ""})
    assert bad.status_code == 200 and b"letters, digits" in bad.content


def act(client, action, tx_ids):
    return client.post("/admin/engine/transaction/", {"action": action, "_selected_action": tx_ids}, follow=True)


def test_transaction_actions_call_the_services_and_journal_the_user(su, full_world):
    world, ids = full_world
    response = act(su, "wake", [ids["nap"]])
    assert "1 transaction(s) woken." in response.content.decode()
    act(su, "cancel", [ids["sleeping"]])
    act(su, "retry", [ids["failed"]])
    for tx_id, kind in ((ids["nap"], "woken"), (ids["sleeping"], "status"), (ids["failed"], "retry")):
        entry = JournalEntry.objects.filter(tx_id=tx_id, actor="user:root").last()
        assert entry is not None and entry.kind == kind
        assert "admin action" in str(entry.data)
    assert world.result(ids["sleeping"]).status == "cancelled"
    assert world.result(ids["failed"]).status == "queued"


def test_a_refused_action_is_reported_and_changes_nothing(su, full_world):
    world, ids = full_world
    response = act(su, "wake", [ids["done"]]).content.decode()
    assert "0 transaction(s) woken." in response and "1 refused" in response
    assert world.result(ids["done"]).status == "success"


def test_transactions_are_found_by_exact_external_id_and_id(su, full_world):
    _, ids = full_world
    by_external = su.get("/admin/engine/transaction/", {"q": "order-42"}).content.decode()
    assert ids["sleeping"] in by_external and ids["done"] not in by_external
    by_id = su.get("/admin/engine/transaction/", {"q": ids["done"]}).content.decode()
    assert ids["done"] in by_id and ids["sleeping"] not in by_id


def test_transactions_filter_by_status_pipeline_node_group_and_owner(su, full_world):
    _, ids = full_world
    page = su.get("/admin/engine/transaction/", {"status__exact": "failed", "pipeline": "failing",
                                                 "owner__name__exact": "test"}).content.decode()
    assert ids["failed"] in page and ids["done"] not in page


def test_the_transactions_list_costs_a_bounded_number_of_queries(su, full_world, django_assert_max_num_queries):
    world, _ = full_world
    for n in range(20):
        world.start("echo", {"n": n})
    su.get("/admin/engine/transaction/")
    with django_assert_max_num_queries(9):
        assert su.get("/admin/engine/transaction/").status_code == 200


def test_a_definition_is_pretty_printed_and_escaped(su, world):
    (version,) = world.load({"name": "xss", "description": "<script>alert(1)</script>",
                             "steps": [{"name": "echo", "type": "util/echo"}]})
    version_id = version.pk if isinstance(version, PipelineVersion) else version
    page = su.get(f"/admin/engine/pipelineversion/{version_id}/change/").content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert '<pre class="datp-json">{\n  &quot;name&quot;: &quot;xss&quot;' in page


def test_a_node_group_is_paused_and_resumed_by_an_action(su, world):
    group = NodeGroup.objects.order_by("name").values_list("name", flat=True).first()
    su.post("/admin/engine/nodegroup/", {"action": "pause", "_selected_action": [group]})
    assert NodeGroup.objects.get(name=group).paused is True
    su.post("/admin/engine/nodegroup/", {"action": "resume", "_selected_action": [group]})
    assert NodeGroup.objects.get(name=group).paused is False


def test_a_transaction_page_links_to_its_records_of_every_kind(su, full_world):
    _, ids = full_world
    page = su.get(f"/admin/engine/transaction/{ids['hooked']}/change/").content.decode()
    links = re.findall(r'href="(/admin/engine/\w+/\?q=[^"]+)"', page)
    assert len(links) == 5
    for link in links:
        assert su.get(link).status_code == 200, link
    runs = su.get(f"/admin/engine/steprun/?q={ids['hooked']}").content.decode()
    assert ids["hooked"] in runs and ids["done"] not in runs
