"""A fan-out's progress on its parent's page in a real headless Chromium: the bar is drawn (no inline style,
the CSP holds), the counts link to the filtered list of its children, and cancelling the parent ends them."""
import re

import pytest
from playwright.sync_api import expect

from engine.models import Transaction
from tests.fan_outs import children_of, release, start_fan

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_operator_follows_a_fan_out_to_its_children_and_cancels_the_parent(browser):
    world = browser.world
    with browser.engine():
        parent = start_fan(world)
        release(world, children_of(parent)[0])
    browser.log_in_as(browser.user("otto", "operator"))
    browser.goto(f"/mondat/transactions/{parent}/")
    page = browser.page
    expect(page.locator("#tx-status .why")).to_have_text(
        re.compile(r"waiting for 4 of 5 children \(0 failed, 50 % tolerated\)"))
    fan_out = page.locator(".fan-out")
    expect(fan_out.locator('[data-count="running"]')).to_have_text("2 running")
    expect(fan_out.locator('[data-count="not_started"]')).to_have_text("2 not yet started")
    widths = {name: page.locator(f"svg.fan-out-bar rect.seg-{name}").bounding_box()["width"]
              for name in ("track", "succeeded", "running", "not_started")}
    assert widths["track"] > 200 and widths["succeeded"] == pytest.approx(widths["track"] / 5, abs=2)
    assert widths["running"] == pytest.approx(2 * widths["succeeded"], abs=2)
    browser.shot("transaction-fan-out")
    fan_out.get_by_role("link", name="2 running").click()
    expect(page).to_have_url(re.compile(r"/mondat/transactions/\?parent_tx_id=.*fan_out=.*status="))
    expect(page.locator("table.tx-list tbody tr")).to_have_count(2)
    expect(page.get_by_label("Children of")).to_have_value(parent)
    page.go_back()
    form = page.locator("form.action-cancel")
    form.get_by_label("Reason").fill("wrong batch")
    form.get_by_role("button", name="Cancel").click()
    expect(page.locator("#tx-status .badge[data-status]")).to_have_attribute("data-status", "cancelled")
    with browser.engine():
        world.advance("PT1H")
        statuses = sorted(Transaction.objects.filter(parent_id=parent).values_list("status", flat=True))
    assert statuses == ["cancelled", "cancelled", "success"]
    page.reload()
    expect(page.locator(".fan-out [data-outcome]")).to_have_attribute("data-outcome", "closed")
    expect(page.locator('.fan-out [data-count="not_started"]')).to_have_text("2 not yet started")
