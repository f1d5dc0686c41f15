"""Rewind and version moves in a real headless Chromium (issue 22): an operator rewinds a failed transaction from
its page, picking the step from the timeline of its step runs onto the fixed version in use (a refused pick first
shows the engine's message); then moves a pipeline's sleeping transactions from the pipeline page through the
dry-run table to the bulk job's page."""
import re

import pytest
from playwright.sync_api import expect

from engine.models import BulkJob, JournalEntry, Transaction
from tests.monitoring.rewind_pipelines import ORDER, move_world, order_fixed

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_operator_rewinds_a_failed_transaction_from_a_step_of_its_timeline_onto_the_fixed_version(browser):
    world = browser.world
    with browser.engine():
        [old] = world.load(ORDER)
        tx_id = world.start("rc-order", {"order": 7, "note": "<i>careful</i>"})
        assert world.run(tx_id).status == "failed"
        [new] = world.load(order_fixed())
    browser.log_in_as(browser.user("otto", "operator"))
    browser.goto(f"/mondat/transactions/{tx_id}/")
    page = browser.page
    expect(page.locator(".tx-status h1 .badge, h1 .badge").first).to_have_text("failed")
    page.get_by_role("link", name="Rewind…").click()
    expect(page).to_have_url(re.compile(rf"/mondat/transactions/{tx_id}/rewind$"))
    timeline = page.locator("#rewind-timeline")
    expect(timeline.locator("tbody tr")).to_have_count(2)
    expect(timeline.locator("tr.run-2")).to_contain_text("failed")
    expect(page.locator("#rewind-steps h2")).to_contain_text(old.pk[:12])

    # The version in use (the fixed one): its steps, each with the data it would start with.
    page.locator("form.rewind-version").get_by_label("Version").select_option("current")
    page.get_by_role("button", name="Show its steps").click()
    expect(page.locator("#rewind-steps h2")).to_contain_text(new.pk[:12])
    steps = page.locator("#rewind-steps")
    expect(steps.locator("tr.step-4")).to_contain_text("it never ran: give the data")
    steps.locator("tr.step-2 summary").click()
    expect(steps.locator("tr.step-2 pre")).to_contain_text('"note": "<i>careful</i>"')  # escaped, shown as text

    # A step it never ran, without data: refused with the engine's message, nothing changes.
    steps.get_by_role("radio", name="Run from ship").check()
    page.locator(".rewind-form").get_by_label("Reason (required)").fill("try ship")
    page.get_by_role("button", name="Rewind", exact=True).click()
    expect(page.locator(".rewind-error")).to_contain_text("never ran step 'ship'")
    with browser.engine():
        assert Transaction.objects.get(pk=tx_id).status == "failed"

    # Pick the failed step run from the timeline and rewind onto the fixed version.
    page.locator("#rewind-timeline").get_by_role("radio", name="Run again from charge (step run 2)").check()
    page.locator(".rewind-form").get_by_label("Reason (required)").fill("card processor fixed")
    browser.shot("rewind-page")
    page.get_by_role("button", name="Rewind", exact=True).click()
    expect(page).to_have_url(re.compile(rf"/mondat/transactions/{tx_id}/$"))
    expect(page.locator(".messages")).to_contain_text(f"Rewound to step charge on version {new.pk[:12]}")
    line = page.locator("#journal tr.journal-rewind .journal-line")
    expect(line).to_contain_text(f"Rewound from charge (failed, version {old.pk[:12]}) to step charge on version "
                                 f"{new.pk[:12]}")
    expect(line).to_contain_text("reason: card processor fixed")
    with browser.engine():
        tx = Transaction.objects.get(pk=tx_id)
        assert (tx.status, tx.step_name, tx.version_id) == ("queued", "charge", new.pk)
        assert world.run(tx_id).status == "sleeping"
        world.set_switch(tx_id, "approved", True)
        result = world.run(tx_id)
    assert result.status == "success" and result.data["charged"] is True and result.data["order"] == 7


def test_an_operator_moves_a_pipelines_sleeping_transactions_through_the_dry_run_to_the_job_page(browser):
    world = browser.world
    with browser.engine():
        v1, v2, waiting, napping, ended = move_world(world)
    browser.log_in_as(browser.user("otto", "operator"))
    browser.goto("/mondat/pipelines/vm-console/")
    page = browser.page
    section = page.locator("#move")
    section.get_by_label("From version").select_option(v1)
    expect(section.get_by_label("To version")).to_have_value(v1)  # the one in use by default
    section.get_by_label("To version").select_option(v2)
    section.get_by_role("button", name="Dry run").click()
    expect(page).to_have_url(re.compile(r"/mondat/pipelines/vm-console/move/\?"))
    expect(page.locator(".move-moves")).to_have_text("3 move")
    expect(page.locator(".move-stays")).to_have_text("1 stay")
    expect(page.locator('#move-steps tr[data-step="approve"]')).to_contain_text("on success: nap -> ship")
    expect(page.locator('#move-steps tr[data-step="nap"]')).to_contain_text("not in the target version")
    expect(page.locator("#move-transactions tr.move-tx")).to_have_count(4)
    expect(page.locator("#move-transactions").get_by_role("link", name=waiting[0])).to_have_count(1)
    browser.shot("version-move-dry-run")
    with browser.engine():
        assert set(Transaction.objects.values_list("version_id", flat=True).filter(
            pipeline_name="vm-console")) == {v1}
        assert not BulkJob.objects.exists()

    page.locator("form.move-confirm").get_by_label("Reason (optional)").fill("approve may time out now")
    page.get_by_role("button", name=re.compile(r"^Move 3 transactions to version")).click()
    expect(page).to_have_url(re.compile(r"/mondat/bulk/jobs/\d+/$"))
    expect(page.locator(".messages")).to_contain_text("3 moved, 1 skipped")
    expect(page.locator("h1")).to_contain_text("Move transactions to another version")
    expect(page.locator("#bulk-progress .badge")).to_have_text("done")
    expect(page.locator(".move-job")).to_contain_text(f"from version {v1[:12]} to {v2[:12]}")
    browser.shot("version-move-job")
    with browser.engine():
        versions = dict(Transaction.objects.filter(pipeline_name="vm-console").values_list("pk", "version_id"))
        moved = sorted(JournalEntry.objects.filter(kind="version_move", actor="user:otto").values_list("tx_id",
                                                                                                     flat=True))
    assert {versions[tx_id] for tx_id in waiting} == {v2} and versions[napping] == versions[ended] == v1
    assert moved == sorted(waiting)
    page.get_by_role("link", name="vm-console").first.click()
    expect(page).to_have_url(re.compile(r"/mondat/pipelines/vm-console/$"))
