"""MONDAT in a real headless Chromium: log in, look around, and act on transactions as operators do."""
import re

import pytest
from playwright.sync_api import expect

from engine.models import JournalEntry
from engine.services.figures import figures_refresh

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def status_of(page):
    return page.locator("#tx-status .badge[data-status]").get_attribute("data-status")


def start(browser, transaction_type, data=None, **kwargs):
    """Start a transaction and run it until it sleeps or ends; return its id."""
    with browser.engine():
        tx_id = browser.world.start(transaction_type, data or {}, **kwargs)
        browser.world.settle()
    return tx_id


def settle(browser):
    with browser.engine():
        browser.world.settle()


def actors_of(browser, tx_id, kind):
    with browser.engine():
        return list(JournalEntry.objects.filter(tx_id=tx_id, kind=kind).values_list("actor", flat=True))


def test_an_operator_logs_in_through_the_login_form(browser):
    browser.user("otto", "operator")
    browser.goto("/mondat/transactions/")
    page = browser.page
    expect(page).to_have_url(re.compile(r"/mondat/login/\?next="))
    page.get_by_label("Username").fill("otto")
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Log in").click()
    expect(page.locator(".error")).to_contain_text("did not match")
    page.get_by_label("Username").fill("otto")
    page.get_by_label("Password").fill("pw-otto")
    browser.shot("login")
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/mondat/transactions/$"))
    expect(page.locator(".who .user")).to_have_text("otto")
    expect(page.locator(".who .role")).to_have_text("operator")


def test_the_dashboard_shows_the_counts_and_links_into_the_lists(browser):
    start(browser, "echo", {"n": 1})
    waiting = start(browser, "approval")
    start(browser, "failing")
    with browser.engine():
        figures_refresh()  # what a running node does every few seconds
    browser.log_in_as(browser.user("otto", "operator"))
    browser.goto("/mondat/")
    page = browser.page
    expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard")
    for status, count in (("sleeping", "1"), ("success", "1"), ("failed", "1"), ("queued", "0")):
        expect(page.locator(f'a.status-count[href$="status={status}"] .stat')).to_have_text(count)
    expect(page.locator("main")).to_contain_text("boom")
    browser.shot("dashboard")
    page.locator('a.status-count[href$="status=sleeping"]').click()
    expect(page).to_have_url(re.compile(r"/mondat/transactions/\?status=sleeping$"))
    expect(page.locator("#tx-rows tr")).to_have_count(1)
    expect(page.locator("#tx-rows")).to_contain_text(waiting)


def test_the_transactions_list_filters_by_status_and_type(browser):
    done = start(browser, "echo", {"n": 1})
    waiting = start(browser, "approval", external_id="order-1")
    failed = start(browser, "failing")
    browser.log_in_as(browser.user("otto", "operator"))
    browser.goto("/mondat/transactions/")
    page = browser.page
    rows = page.locator("#tx-rows tr")
    expect(rows).to_have_count(3)
    page.get_by_label("sleeping", exact=True).check()
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"status=sleeping"))
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(waiting)
    expect(page.locator("#tx-rows")).not_to_contain_text(done)
    page.get_by_label("sleeping", exact=True).uncheck()
    page.get_by_label("Transaction type").fill("failing")
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(failed)
    browser.shot("transactions-filtered")


def test_an_operator_flips_the_switch_a_transaction_waits_for_and_sees_it_finish(browser):
    tx_id = start(browser, "example-switch", {"order": 7})
    browser.log_in_as(browser.user("otto", "operator"))
    browser.goto(f"/mondat/transactions/{tx_id}/")
    page = browser.page
    assert status_of(page) == "sleeping"
    expect(page.locator("#tx-status .why")).to_contain_text("waiting for switch")
    expect(page.locator("#tx-status .why")).to_contain_text("approved")
    browser.shot("transaction-sleeping")
    browser.shot("transaction-sleeping-narrow", width=400)
    form = page.locator("form.action-switch")
    expect(form.get_by_label("Switch name")).to_have_value("approved")
    form.get_by_label("Switch value").fill("true")
    form.get_by_label("Reason").fill("checked by phone")
    form.get_by_role("button", name="Set switch").click()
    expect(page).to_have_url(re.compile(re.escape(f"/mondat/transactions/{tx_id}/")))
    settle(browser)
    page.reload()
    assert status_of(page) == "success"
    expect(page.locator("#switches")).to_contain_text("checked by phone")
    expect(page.locator("#payload-output")).to_contain_text("approved")
    assert actors_of(browser, tx_id, "switch") == ["user:otto"]
    browser.shot("transaction-finished")


def test_an_operator_wakes_a_sleeper_from_the_sleeping_page(browser):
    napping = start(browser, "nap")
    other = start(browser, "nap")
    browser.log_in_as(browser.user("otto", "operator"))
    browser.goto("/mondat/sleeping/")
    page = browser.page
    row = page.locator("#sleepers tr", has_text=napping)
    expect(row).to_have_count(1)
    browser.shot("sleeping")
    row.get_by_label("Reason").fill("customer is waiting")
    row.get_by_role("button", name="Wake").click()
    expect(page.locator("#sleepers tr", has_text=napping)).to_have_count(0)
    expect(page.locator("#sleepers tr", has_text=other)).to_have_count(1)
    settle(browser)
    browser.goto(f"/mondat/transactions/{napping}/")
    assert status_of(page) == "success"
    assert actors_of(browser, napping, "woken") == ["user:otto"]


def test_an_operator_cancels_with_a_reason(browser):
    tx_id = start(browser, "approval")
    browser.log_in_as(browser.user("otto", "operator"))
    browser.goto(f"/mondat/transactions/{tx_id}/")
    page = browser.page
    form = page.locator("form.action-cancel")
    form.get_by_label("Reason").fill("duplicate order")
    form.get_by_role("button", name="Cancel").click()
    expect(page.locator("#tx-status .badge[data-status]")).to_have_attribute("data-status", "cancelled")
    expect(page.locator("#tx-status")).to_contain_text("duplicate order")
    expect(page.locator("#journal")).to_contain_text("user:otto")
    expect(page.locator("form.action-cancel")).to_have_count(0)
    browser.shot("transaction-cancelled")


def test_a_bulk_wake_shows_how_many_match_and_asks_before_waking(browser):
    naps = [start(browser, "nap", {"n": n}) for n in range(3)]
    waiting = start(browser, "approval")
    browser.log_in_as(browser.user("otto", "operator"))
    browser.goto("/mondat/transactions/?transaction_type=nap")
    page = browser.page
    page.locator("details.bulk-menu summary").click()
    page.locator("details.bulk-menu").get_by_role("link", name="Wake…").click()
    expect(page).to_have_url(re.compile(r"/mondat/bulk/wake/\?.*transaction_type=nap"))
    expect(page.locator(".bulk-count")).to_contain_text("3 transactions match")
    browser.shot("bulk-wake-preview")
    with browser.engine():
        assert JournalEntry.objects.filter(kind="woken").count() == 0
    page.get_by_label("Reason").fill("processor is back")
    page.get_by_role("button", name="Wake 3 transactions").click()
    expect(page).to_have_url(re.compile(r"/mondat/bulk/jobs/\d+/"))
    expect(page.locator("#bulk-progress")).to_contain_text("3 done")
    browser.shot("bulk-wake-done")
    settle(browser)
    with browser.engine():
        statuses = {tx_id: browser.world.result(tx_id).status for tx_id in [*naps, waiting]}
    assert statuses == {**{tx_id: "success" for tx_id in naps}, waiting: "sleeping"}
    assert all(actors_of(browser, tx_id, "woken") == ["user:otto"] for tx_id in naps)


def test_a_viewer_finds_no_action_buttons(browser):
    tx_id = start(browser, "approval")
    start(browser, "nap")
    browser.log_in_as(browser.user("vera", "viewer"))
    page = browser.page
    browser.goto(f"/mondat/transactions/{tx_id}/")
    expect(page.locator("#tx-status .why")).to_contain_text("waiting for switch")
    for name in ("Set switch", "Clear switch", "Wake now", "Cancel", "Move deadline", "Retry"):
        expect(page.get_by_role("button", name=name)).to_have_count(0)
    expect(page.locator("main form[method=post]")).to_have_count(0)
    browser.shot("viewer-transaction")
    browser.goto("/mondat/sleeping/")
    expect(page.locator("#sleepers tbody tr")).to_have_count(2)
    expect(page.get_by_role("button", name="Wake")).to_have_count(0)
    expect(page.get_by_text("Bulk wake…")).to_have_count(0)
    browser.goto("/mondat/transactions/")
    expect(page.locator("details.bulk-menu")).to_have_count(0)
    browser.shot("viewer-transactions")
