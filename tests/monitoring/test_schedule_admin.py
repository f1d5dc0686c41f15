"""Schedules in the Django admin: added, changed, paused, resumed, run and deleted through the engine's services (so
they are checked, planned again and journaled as the user); the planned fields, runs and journal are read-only."""
import json
import re

import pytest

from engine.models import Schedule, ScheduleEvent, ScheduleRun
from tests.monitoring.conftest import login, make_user

FORM = {"name": "nightly", "owner": "test", "description": "", "transaction_type": "echo", "data": '{"n": 1}',
        "cron": "0 2 * * *", "interval": "", "timezone": "Europe/Paris", "start_at_0": "", "start_at_1": "",
        "end_at_0": "", "end_at_1": "", "overlap": "skip", "catchup_window": "PT1H", "jitter": "",
        "journal_note": "made in the admin"}


@pytest.fixture
def su(world):
    return login(make_user("root", superuser=True))


@pytest.fixture
def nightly(world):
    world.schedule("nightly", "echo", cron="0 2 * * *", timezone="Europe/Paris")
    return Schedule.objects.get(name="nightly")


def change_form(schedule, **changes):
    """The change form as the browser posts it (`initial-data`: the value the page showed, as Django's form of a
    field with a callable default posts it)."""
    form = {key: value for key, value in FORM.items() if key not in ("name", "owner")}
    data = json.dumps(schedule.data)
    return {**form, "data": data, "initial-data": data, "journal_note": "", **changes}


def journal(name):
    return list(ScheduleEvent.objects.filter(schedule__name=name).order_by("at", "pk")
                .values_list("kind", "actor", "note", "data"))


def test_a_schedule_added_in_the_admin_is_planned_and_journaled_as_the_user(su, world):
    response = su.post("/admin/engine/schedule/add/", {**FORM, "paused": "on"})
    assert response.status_code == 302, response.content.decode()[:3000]
    schedule = Schedule.objects.get(name="nightly")
    assert (schedule.owner_id, schedule.data, schedule.paused, schedule.created_by) == ("test", {"n": 1}, True,
                                                                                        "user:root")
    assert schedule.next_due_at is not None and schedule.look_at is None  # planned, and paused
    assert journal("nightly") == [("created", "user:root", "made in the admin", {})]


def test_a_refused_field_shows_on_the_form_and_nothing_is_written(su, world):
    response = su.post("/admin/engine/schedule/add/", {**FORM, "cron": "0 25 * * *"})
    assert response.status_code == 200
    assert '<ul class="errorlist" id="id_cron_error"><li>Not a cron expression: Bad hour.</li></ul>' in \
        response.content.decode()
    assert not Schedule.objects.exists()


def test_a_type_the_engine_cannot_start_is_refused_on_the_form(su, world):
    response = su.post("/admin/engine/schedule/add/", {**FORM, "transaction_type": "helper"})
    assert response.status_code == 200
    assert re.search(r'<ul class="errorlist nonfield"><li>[^<]*helper[^<]*</li>', response.content.decode())
    assert not Schedule.objects.exists()


def test_changing_the_cron_plans_the_next_due_time_again_and_journals_it(su, nightly, world):
    before = nightly.next_due_at
    response = su.post(f"/admin/engine/schedule/{nightly.pk}/change/",
                       change_form(nightly, cron="30 * * * *", timezone="UTC", journal_note="half past",
                                   next_due_at="2030-01-01T00:00:00Z"))
    assert response.status_code == 302, response.content.decode()[:3000]
    nightly.refresh_from_db()
    assert nightly.cron == "30 * * * *" and nightly.next_due_at.minute == 30 and nightly.next_due_at != before
    assert nightly.next_due_at.year != 2030  # planned by the engine, not taken from the form
    kind, actor, note, data = journal("nightly")[-1]
    assert (kind, actor, note, data) == ("updated", "user:root", "half past", {"fields": ["cron", "timezone"]})


def test_unticking_paused_resumes_through_the_service_with_the_note(su, nightly, world):
    su.post("/admin/engine/schedule/", {"action": "pause", "_selected_action": [nightly.pk]})
    nightly.refresh_from_db()
    assert nightly.paused and nightly.note == "admin action"
    response = su.post(f"/admin/engine/schedule/{nightly.pk}/change/", change_form(nightly, journal_note="go"))
    assert response.status_code == 302
    nightly.refresh_from_db()
    assert (nightly.paused, nightly.note) == (False, "go") and nightly.look_at is not None
    assert [entry[:3] for entry in journal("nightly")[-2:]] == [("paused", "user:root", "admin action"),
                                                               ("resumed", "user:root", "go")]


def test_the_run_now_action_starts_a_run_as_the_user(su, nightly, world):
    response = su.post("/admin/engine/schedule/", {"action": "trigger", "_selected_action": [nightly.pk]},
                       follow=True)
    assert "1 schedule(s) triggered." in response.content.decode()
    assert ScheduleRun.objects.get(schedule=nightly).actor == "user:root"


def test_the_change_page_the_runs_and_the_journal_open_and_link_each_other(su, nightly, world):
    world.schedule("often", "echo", cron="*/30 * * * *")
    world.advance("PT1H")
    often = Schedule.objects.get(name="often")
    page = su.get(f"/admin/engine/schedule/{often.pk}/change/").content.decode()
    for field in ("next_due_at", "look_at", "created_by"):
        assert f'name="{field}"' not in page  # shown, not editable
    runs = re.search(r'href="(/admin/engine/schedulerun/\?schedule__exact=\d+)"', page).group(1)
    events = re.search(r'href="(/admin/engine/scheduleevent/\?schedule__exact=\d+)"', page).group(1)
    assert 'href="/mondat/schedules/often/"' in page
    assert "2 schedule runs" in su.get(runs).content.decode()
    assert "1 schedule event" in su.get(events).content.decode()
    run = ScheduleRun.objects.filter(schedule=often).first()
    event = ScheduleEvent.objects.filter(schedule=often).first()
    for path in ("/admin/engine/schedule/", f"/admin/engine/schedulerun/{run.pk}/change/",
                 f"/admin/engine/scheduleevent/{event.pk}/change/"):
        assert su.get(path).status_code == 200, path


def test_runs_and_the_journal_offer_no_add_change_nor_delete(su, world):
    world.schedule("often", "echo", cron="*/30 * * * *")
    world.advance("PT1H")
    run, event = ScheduleRun.objects.first(), ScheduleEvent.objects.first()
    for model, obj in (("schedulerun", run), ("scheduleevent", event)):
        assert su.get(f"/admin/engine/{model}/add/").status_code == 403
        assert su.get(f"/admin/engine/{model}/{obj.pk}/delete/").status_code == 403
        assert su.post(f"/admin/engine/{model}/{obj.pk}/change/", {}).status_code == 403


def test_a_schedule_is_deleted_with_its_runs_and_journal_the_transactions_stay(su, world):
    world.schedule("often", "echo", cron="*/30 * * * *")
    world.advance("PT1H")
    often = Schedule.objects.get(name="often")
    tx_ids = [tx_id for _, tx_id in world.schedule_runs("often")]
    confirm = su.get(f"/admin/engine/schedule/{often.pk}/delete/")
    assert confirm.status_code == 200 and b"Are you sure" in confirm.content
    assert su.post(f"/admin/engine/schedule/{often.pk}/delete/", {"post": "yes"}).status_code == 302
    assert not Schedule.objects.exists() and not ScheduleRun.objects.exists() and not ScheduleEvent.objects.exists()
    assert all(world.result(tx_id).status == "success" for tx_id in tx_ids)


def test_a_user_without_the_system_role_sees_no_schedule(world, nightly):
    user = make_user("staffer", "admin", [world.owner])
    user.is_staff = True
    user.save()
    client = login(user)
    assert client.get("/admin/engine/schedule/").status_code == 403
    assert client.get(f"/admin/engine/schedule/{nightly.pk}/change/").status_code == 403
