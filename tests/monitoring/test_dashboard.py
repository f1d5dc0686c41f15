"""The dashboard: counts from the nodes' figures, the per-minute chart, sleepers, wake-ups, node groups
and failures of the user's owners only, in a bounded number of queries."""
import re
from datetime import timedelta

from engine.services.figures import figures_refresh
from engine.services.nodes import node_register
from engine.services.transactions import transaction_start
from monitoring.charts import minute_chart
from tests.monitoring.conftest import login, make_user


def start_other(kind):
    tx, _ = transaction_start(transaction_type=kind, data={}, owner="other", actor="app:other")
    return tx.pk


def busy(world):
    """Two successes, a failure, a switch sleeper, a timer sleeper and a queued echo for "test"; the
    other owner has three failures and a sleeper of their own."""
    world.run(world.start("echo", {}))
    world.run(world.start("echo", {}))
    failed = world.start("failing", {"note": "<b>boom</b>"})
    world.run(failed)
    world.start("approval", {})
    world.start("nap", {})
    for _ in range(3):
        start_other("failing")
    start_other("approval")
    world.settle()
    world.start("echo", {})
    figures_refresh()
    return failed


def stat(html, status):
    """The big number on the status card of `status`."""
    match = re.search(rf'\?status={status}" class="status-count">.*?<span class="stat">(\d+)</span>', html, re.S)
    assert match, status
    return int(match.group(1))


def test_dashboard_counts_come_from_the_figures_of_the_users_owners(world, viewer):
    failed = busy(world)
    html = viewer.get("/mondat/").content.decode()
    assert (stat(html, "queued"), stat(html, "sleeping"), stat(html, "success"), stat(html, "failed")) == (1, 2, 2, 1)
    assert f'href="/mondat/transactions/{failed}/"' in html
    assert 'href="/mondat/transactions/?status=sleeping"' in html
    assert "Figures as of" in html and "no node has refreshed" not in html


def test_a_second_owners_counts_never_show(world, other_operator, system_user):
    failed = busy(world)
    html = other_operator.get("/mondat/").content.decode()
    assert (stat(html, "failed"), stat(html, "sleeping"), stat(html, "success"), stat(html, "queued")) == (3, 1, 0, 0)
    assert failed not in html
    everyone = system_user.get("/mondat/").content.decode()
    assert (stat(everyone, "failed"), stat(everyone, "sleeping")) == (4, 3)


def test_sleepers_by_reason_and_next_wakeups_link_into_their_pages(world, viewer):
    busy(world)
    nap = world.start("nap", {})
    world.settle()
    figures_refresh()  # what a running node does every few seconds
    html = viewer.get("/mondat/").content.decode()
    timers = re.search(r'href="/mondat/sleeping/\?reason=timer"><span class="stat">(\d+)</span>', html)
    switches = re.search(r'href="/mondat/sleeping/\?reason=switch"><span class="stat">(\d+)</span>', html)
    assert (int(timers.group(1)), int(switches.group(1))) == (2, 1)
    assert f'href="/mondat/transactions/{nap}/"' in html
    assert "in 5 s" in html


def test_the_chart_draws_started_and_finished_per_minute(world, viewer):
    busy(world)
    html = viewer.get("/mondat/").content.decode()
    assert '<svg class="chart"' in html
    started = re.search(r'class="series series-started" fill="none" points="([^"]+)"', html).group(1)
    assert len(started.split()) == 60
    assert "Started 6, finished 3, failed 1 in the last hour" in html
    assert world.now().strftime("%H:%M") in html


def test_the_chart_geometry_scales_to_the_busiest_minute():
    from datetime import UTC, datetime

    first = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
    series = [{"minute": first + timedelta(minutes=i), "started": i % 3, "finished": 0, "failed": 0}
              for i in range(60)]
    series[30]["started"] = 10
    chart = minute_chart(series)
    started = [tuple(map(float, p.split(","))) for p in chart["lines"][0]["points"].split()]
    assert min(y for _, y in started) == chart["top"] and started[0][1] == chart["bottom"]
    assert [label["label"] for label in chart["labels"]] == ["12:14", "12:29", "12:44", "12:59"]
    assert chart["peak"] == 10 and chart["lines"][0]["total"] == sum(p["started"] for p in series)


def test_stale_figures_are_called_stale(world, viewer):
    html = viewer.get("/mondat/").content.decode()
    assert "No figures yet" in html
    figures_refresh()
    world.advance("PT2M")
    html = viewer.get("/mondat/").content.decode()
    assert "no node has refreshed them since" in html and "2 min ago" in html


def test_node_groups_show_queue_depth_running_and_live_nodes(world, viewer):
    busy(world)
    node_register(group="master", workers=4)
    html = viewer.get("/mondat/").content.decode()
    row = re.search(r'#group-master">master</a></td>(.*?)</tr>', html, re.S).group(1)
    assert re.findall(r">(\d+)<", row)[:3] == ["1", "0", "1"]
    assert "no live node" not in row


def test_the_page_refreshes_itself_with_htmx(world, viewer):
    html = viewer.get("/mondat/").content.decode()
    assert 'hx-trigger="every 10s"' in html and 'hx-select="#dashboard"' in html


def test_what_the_dashboard_shows_is_escaped(world, system_user):
    world.load({"name": "evil", "steps": [{"type": "util/fail", "config": {"note": "<script>alert(1)</script>"}}]})
    world.run(world.start("evil", {}))
    figures_refresh()
    html = system_user.get("/mondat/").content.decode()
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_the_dashboard_reads_a_bounded_number_of_queries(world, django_assert_max_num_queries):
    busy(world)
    for index in range(5):
        node_register(group=f"group-{index}", workers=2)
        world.start("nap", {})
    world.settle()
    figures_refresh()
    client = login(make_user("many", "viewer", ["test", "other"]))
    with django_assert_max_num_queries(16):
        assert client.get("/mondat/").status_code == 200


def sleeper_counts(html):
    """{reason: the number on its sleeper card}."""
    return {reason: int(n) for reason, n in
            re.findall(r'href="/mondat/sleeping/\?reason=(\w+)"><span class="stat">(\d+)</span>', html)}


def test_sleepers_by_reason_come_from_the_figures_and_are_right_after_a_refresh(world, viewer, system_user):
    busy(world)
    assert sleeper_counts(viewer.get("/mondat/").content.decode()) == {
        "timer": 1, "switch": 1, "callback": 0, "child": 0, "children": 0}
    world.start("nap", {})
    world.start("approval", {})
    world.settle()
    # Until a node refreshes the figures the page shows them as of the last refresh, not a live count.
    assert sleeper_counts(viewer.get("/mondat/").content.decode())["timer"] == 1
    figures_refresh()
    assert sleeper_counts(viewer.get("/mondat/").content.decode()) == {
        "timer": 2, "switch": 2, "callback": 0, "child": 0, "children": 0}
    assert sleeper_counts(system_user.get("/mondat/").content.decode())["switch"] == 3


def test_a_woken_sleeper_leaves_the_figures_at_the_next_refresh(world, viewer):
    busy(world)
    world.advance("PT6S")
    world.settle()
    figures_refresh()
    assert sleeper_counts(viewer.get("/mondat/").content.decode()) == {
        "timer": 0, "switch": 1, "callback": 0, "child": 0, "children": 0}


def test_recent_failures_are_the_newest_of_every_owner_in_scope_across_statuses(world, system_user, viewer):
    world.load({"name": "abort", "steps": [{"type": "util/fixed-reply", "config": {"status": "aborted", "note": "no"}}]})
    busy(world)
    old = world.start("failing", {})
    world.run(old)
    world.advance("P2D")
    newest = []
    for kind in ("failing", "abort"):
        newest.append(world.start(kind, {}))
        world.run(newest[-1])
        world.advance("PT1M")
    other = start_other("failing")
    world.settle()
    html = system_user.get("/mondat/").content.decode()
    failures = re.findall(r'<a class="mono" href="/mondat/transactions/([^/]+)/">', html.split("Recent failures")[1])
    assert failures == [other, newest[1], newest[0]]  # newest first; the others were created over a day ago
    assert 'class="badge s-aborted">aborted<' in html
    mine = viewer.get("/mondat/").content.decode().split("Recent failures")[1]
    assert newest[1] in mine and other not in mine
