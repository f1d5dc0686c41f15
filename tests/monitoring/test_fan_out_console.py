"""Fan-outs in MONDAT: the parent's page shows each fan-out's progress and links to the filtered list of its
children; its why-line counts them; cancelling the parent cancels them and starts no other; the sleeper
figures, the Sleeping page and the list's filters know the reason "children"."""
import re

import pytest

from engine.models import FanOut, FanOutItem, Sleeper, Transaction
from engine.services import bulk
from engine.services.figures import figures_refresh
from tests.fan_outs import children_of, fail, release, start_fan
from tests.monitoring.test_dashboard import sleeper_counts


@pytest.fixture
def parent(world):
    return start_fan(world)


def html_of(client, url, status=200):
    response = client.get(url)
    assert response.status_code == status, url
    return response.content.decode()


def counts(html):
    """{part: the number the fan-out's counts show}."""
    return {name: int(number.replace(",", "")) for name, number in
            re.findall(r'data-count="(\w+)">(?:<a [^>]*>)?([\d,]+) ', html)}


def listed(client, url):
    return set(re.findall(r'<a class="mono" href="/mondat/transactions/(tx-[0-9a-f]+)/"', html_of(client, url)))


def links(html):
    """{label: URL} of the links to the Transactions list."""
    return {label: href.replace("&amp;", "&") for href, label in
            re.findall(r'href="(/mondat/transactions/\?[^"]+)">([^<]+)</a>', html)}


def test_the_parent_page_shows_the_progress_and_the_why_line(viewer, world, parent):
    html = html_of(viewer, f"/mondat/transactions/{parent}/")
    assert 'data-why="children"' in html
    assert "waiting for 5 of 5 children (0 failed, 50 % tolerated)" in html
    assert counts(html) == {"started": 2, "running": 2, "succeeded": 0, "failed": 0, "not_started": 3}
    first, second = children_of(parent)
    release(world, first)
    fail(world, second)
    html = html_of(viewer, f"/mondat/transactions/{parent}/")
    assert "waiting for 3 of 5 children (1 failed, 50 % tolerated)" in html
    assert counts(html) == {"started": 4, "running": 2, "succeeded": 1, "failed": 1, "not_started": 1}
    bar = dict(re.findall(r'<rect class="seg-(\w+)" x="[\d.]+" y="0" width="([\d.]+)"', html))
    assert bar == {"track": "100", "succeeded": "20.0", "failed": "20.0", "running": "40.0", "not_started": "20.0"}


def test_the_status_block_the_page_refreshes_follows_the_progress(viewer, world, parent):
    release(world, children_of(parent)[0])
    html = html_of(viewer, f"/mondat/transactions/{parent}/status?was=sleeping")
    assert counts(html)["succeeded"] == 1 and "waiting for 4 of 5 children" in html


def test_the_links_list_exactly_its_children_and_those_of_each_count(viewer, world, parent):
    first, second = children_of(parent)
    release(world, first)
    by_label = links(html_of(viewer, f"/mondat/transactions/{parent}/"))
    assert set(by_label) == {"2 running", "1 succeeded", "0 failed", "list its children", "list the children",
                             "list every child"}
    everyone = set(children_of(parent))
    assert listed(viewer, by_label["list its children"]) == listed(viewer, by_label["list the children"]) == everyone
    assert listed(viewer, by_label["1 succeeded"]) == {first}
    assert listed(viewer, by_label["2 running"]) == everyone - {first}
    assert listed(viewer, by_label["0 failed"]) == set()


def test_the_list_filters_by_parent_and_fan_out_and_keeps_them_in_its_pages(viewer, world):
    parent = start_fan(world, items=2, transaction_type="two-fans", quick=[1, 2, 3])
    quick, gated = FanOut.objects.filter(tx_id=parent).order_by("pk").values_list("pk", flat=True)
    world.start("echo", {})
    assert listed(viewer, f"/mondat/transactions/?parent_tx_id={parent}") == set(children_of(parent))
    assert listed(viewer, f"/mondat/transactions/?parent_tx_id={parent}&fan_out={gated}") == \
        set(children_of(parent, fan_out_item__fan_out_id=gated))
    assert len(listed(viewer, f"/mondat/transactions/?fan_out={quick}")) == 3
    html = html_of(viewer, f"/mondat/transactions/?parent_tx_id={parent}&fan_out={quick}&limit=2")
    assert f"fan_out={quick}" in html.split("next")[-1] and f'value="{parent}"' in html


@pytest.mark.parametrize("value", ["abc", "0", "-3", "1.5"])
def test_a_bad_fan_out_filter_is_refused_and_lists_nothing(viewer, world, parent, value):
    response = viewer.get("/mondat/transactions/", {"fan_out": value})
    assert response.status_code == 400
    assert "fan_out" in response.context["form"].errors and response.context["rows"] == []


def test_cancelling_the_parent_from_the_console_cancels_the_children_and_starts_no_other(operator, world, parent):
    release(world, children_of(parent)[0])  # one ended, two run, two are not started yet
    response = operator.post(f"/mondat/transactions/{parent}/cancel", {"reason": "wrong batch"})
    assert response.status_code == 302
    world.advance("P1D")  # whatever would still start, would have by now
    assert Transaction.objects.get(pk=parent).status == "cancelled"
    assert sorted(Transaction.objects.filter(parent_id=parent).values_list("status", flat=True)) == \
        ["cancelled", "cancelled", "success"]
    fan = FanOut.objects.get(tx_id=parent)
    assert (fan.started, fan.succeeded, fan.failed, fan.outcome) == (3, 1, 2, "closed")
    assert FanOutItem.objects.filter(fan_out=fan, child__isnull=True).count() == 2
    html = html_of(operator, f"/mondat/transactions/{parent}/")
    assert counts(html) == {"started": 3, "running": 0, "succeeded": 1, "failed": 2, "not_started": 2}
    assert 'data-outcome="closed"' in html


def test_a_finished_fan_out_shows_its_outcome(viewer, world):
    parent = start_fan(world, items=2, transaction_type="two-fans", quick=[1])
    html = html_of(viewer, f"/mondat/transactions/{parent}/")
    assert 'data-outcome="success"' in html and html.count('class="fan-out"') == 2


def test_a_transaction_without_fan_outs_shows_no_progress(viewer, world):
    tx_id = world.start("echo", {})
    world.settle()
    assert 'id="fan-outs"' not in html_of(viewer, f"/mondat/transactions/{tx_id}/")


def test_another_owners_operator_sees_neither_the_parent_nor_its_children(other_operator, world, parent):
    html_of(other_operator, f"/mondat/transactions/{parent}/", status=404)
    assert listed(other_operator, f"/mondat/transactions/?parent_tx_id={parent}") == set()


def test_the_sleeper_figures_count_the_parents_waiting_for_children(viewer, world, parent):
    figures_refresh()
    html = html_of(viewer, "/mondat/")
    assert sleeper_counts(html)["children"] == 1 and sleeper_counts(html)["switch"] == 2
    sleeping = html_of(viewer, "/mondat/sleeping/?reason=children")
    assert parent in sleeping and "0 of 5 ended" in sleeping
    assert f"parent_tx_id={parent}&amp;fan_out={Sleeper.objects.get(tx_id=parent).fan_out_id}" in sleeping


@pytest.mark.parametrize("inline_max", [2000, 1])
def test_a_bulk_cancel_over_a_fan_outs_link_cancels_only_its_running_children(operator, world, settings, inline_max):
    settings.DATP = {**settings.DATP, "BULK_INLINE_MAX": inline_max}  # 1: a background job, filters stored
    parent = start_fan(world, items=2, transaction_type="two-fans", quick=[1, 2])
    gated = FanOut.objects.filter(tx_id=parent, step="gated").get()
    other = start_fan(world)
    response = operator.post(f"/mondat/bulk/cancel/?parent_tx_id={parent}&fan_out={gated.pk}", {"reason": "redo"})
    assert response.status_code == 302
    bulk.bulk_jobs_run(budget_seconds=60)  # what a node does with a job; nothing left for an inline action
    world.settle()
    assert sorted(Transaction.objects.filter(parent_id=parent).values_list("status", flat=True)) == \
        ["cancelled", "cancelled", "success", "success"]
    assert set(Transaction.objects.filter(parent_id=other).values_list("status", flat=True)) == {"sleeping"}
    gated.refresh_from_db()
    assert (gated.failed, gated.outcome) == (2, "success")  # `all` with no tolerance given: every end counts


def test_the_children_table_links_to_the_list_of_every_child(viewer, world, parent):
    html = html_of(viewer, f"/mondat/transactions/{parent}/")
    assert listed(viewer, links(html)["list every child"]) == set(children_of(parent))
    echo = world.start("echo", {})
    world.settle()
    assert "list every child" not in html_of(viewer, f"/mondat/transactions/{echo}/")


def test_a_childs_page_names_its_item_and_links_to_its_siblings(viewer, world, parent):
    second = children_of(parent)[1]
    html = html_of(viewer, f"/mondat/transactions/{second}/")
    assert re.search(r"item 1 of the 5 of step <code>each</code>", html)
    assert listed(viewer, links(html)["its siblings"]) == set(children_of(parent))
    world.load({"name": "lone-parent", "steps": [{"name": "call", "type": "util/child-pipeline",
                                                  "config": {"pipeline": "helper"}}]})
    lone = world.start("lone-parent", {})
    world.settle()
    child = Transaction.objects.get(parent_id=lone)
    assert "fan-out-item" not in html_of(viewer, f"/mondat/transactions/{child.pk}/")
