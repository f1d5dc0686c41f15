"""The Schedules pages in a real headless Chromium: an operator finds a schedule from the list, pauses it with a
note, sees it paused there and on the list, and resumes it; both are journaled as the user."""
import re

import pytest
from playwright.sync_api import expect

from engine.models import Schedule, ScheduleEvent

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_operator_pauses_a_schedule_with_a_note_sees_it_paused_and_resumes_it(browser):
    world = browser.world
    with browser.engine():
        world.schedule("nightly", "echo", cron="0 2 * * *", timezone="Europe/Paris", description="daily report")
        world.schedule("hourly", "echo", cron="0 * * * *")
        world.advance("PT1H")  # the hourly one starts its first run
    browser.log_in_as(browser.user("otto", "operator"))
    browser.goto("/mondat/")
    page = browser.page
    page.locator(".mainnav").get_by_role("link", name="Schedules").click()
    expect(page).to_have_url(re.compile(r"/mondat/schedules/$"))
    expect(page.locator("#schedule-hourly .last-run .badge")).to_have_text("success")
    expect(page.locator("#schedule-nightly .schedule-state .badge")).to_have_text("active")
    page.locator("#schedule-nightly").get_by_role("link", name="nightly").click()
    expect(page).to_have_url(re.compile(r"/mondat/schedules/nightly/$"))
    expect(page.locator("table.next-runs tbody tr")).to_have_count(5)

    form = page.locator("form.action-pause")
    form.get_by_label("Note").fill("report server migration")
    form.get_by_role("button", name="Pause").click()
    expect(page.locator(".messages")).to_contain_text("Paused nightly")
    expect(page.locator("h1 .badge")).to_have_text("paused")
    expect(page.locator(".schedule-note")).to_have_text("report server migration")
    expect(page.locator("#journal tr.event-paused")).to_contain_text("user:otto")
    expect(page.locator("form.action-pause")).to_have_count(0)
    browser.shot("schedule-paused")
    page.get_by_role("link", name="Schedules").first.click()
    state = page.locator("#schedule-nightly .schedule-state")
    expect(state.locator(".badge")).to_have_text("paused")
    expect(state).to_contain_text("report server migration")
    browser.shot("schedules-list")

    page.locator("#schedule-nightly").get_by_role("link", name="nightly").click()
    form = page.locator("form.action-resume")
    form.get_by_label("Note").fill("migrated")
    form.get_by_role("button", name="Resume").click()
    expect(page.locator(".messages")).to_contain_text("Resumed nightly")
    expect(page.locator("h1 .badge")).to_have_text("active")
    expect(page.locator("#journal tr.event-resumed")).to_contain_text("migrated")
    with browser.engine():
        schedule = Schedule.objects.get(name="nightly")
        journal = list(ScheduleEvent.objects.filter(schedule=schedule, kind__in=["paused", "resumed"])
                       .order_by("at", "pk").values_list("kind", "actor", "note"))
    assert (schedule.paused, schedule.note) == (False, "migrated") and schedule.look_at is not None
    assert journal == [("paused", "user:otto", "report server migration"), ("resumed", "user:otto", "migrated")]
