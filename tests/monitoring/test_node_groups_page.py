"""The node groups page: nodes with a stale marker, counts over the user's owners, throughput, and
pause, resume and max concurrency for system users only."""
import re
from datetime import timedelta

from engine.models import Node, NodeGroup
from engine.services.figures import figures_refresh
from engine.services.nodes import node_register
from engine.services.transactions import transaction_start
from tests.monitoring.conftest import login, make_user


def card(html, group="master"):
    return re.search(rf'id="group-{group}">(.*?)</section>', html, re.S).group(1)


def stats(section):
    return dict((label, int(n)) for n, label in re.findall(
        r'<span class="stat">(\d+)</span> <span class="muted">(queued|running|sleeping|finished)', section))


def test_groups_show_nodes_and_counts_of_the_users_owners_only(world, viewer):
    world.run(world.start("echo", {}))
    world.start("approval", {})
    world.settle()
    world.start("echo", {})
    for kind in ("approval", "approval", "echo"):
        transaction_start(transaction_type=kind, data={}, owner="other", actor="app:other")
    figures_refresh()
    node_id = node_register(group="master", workers=3)
    html = viewer.get("/mondat/node-groups/").content.decode()
    section = card(html)
    assert stats(section) == {"queued": 1, "running": 0, "sleeping": 1, "finished": 1}
    assert node_id in section and "<td>3</td>" in section and "live" in section
    assert "Pause" not in html and "max_concurrency" not in html


def test_a_node_that_stopped_beating_is_marked(world, viewer):
    node_register(group="master", workers=2)
    world.advance("PT30S")
    assert "stale heartbeat" in card(viewer.get("/mondat/node-groups/").content.decode())
    world.advance("PT2M")
    section = card(viewer.get("/mondat/node-groups/").content.decode())
    assert "gone" in section and "no live node" in section


def test_a_system_user_pauses_and_resumes_a_group(world, system_user):
    response = system_user.post("/mondat/node-groups/", {"group": "master", "action": "pause", "reason": "deploy"})
    assert response.status_code == 302
    assert NodeGroup.objects.get(pk="master").paused is True
    html = system_user.get("/mondat/node-groups/").content.decode()
    assert "Paused master" in html and 'value="resume"' in card(html)
    system_user.post("/mondat/node-groups/", {"group": "master", "action": "resume"})
    assert NodeGroup.objects.get(pk="master").paused is False


def test_a_system_user_sets_and_clears_max_concurrency(world, system_user):
    system_user.post("/mondat/node-groups/", {"group": "master", "action": "limit", "max_concurrency": "7"})
    assert NodeGroup.objects.get(pk="master").max_concurrency == 7
    system_user.post("/mondat/node-groups/", {"group": "master", "action": "limit", "max_concurrency": ""})
    assert NodeGroup.objects.get(pk="master").max_concurrency is None


def test_a_bad_limit_is_refused_with_a_message(world, system_user):
    for bad in ("0", "-3", "many", str(2**31)):
        response = system_user.post("/mondat/node-groups/", {"group": "master", "action": "limit",
                                                             "max_concurrency": bad}, follow=True)
        assert "Max concurrency must be a whole number" in response.content.decode()
    assert NodeGroup.objects.get(pk="master").max_concurrency is None


def test_an_unknown_group_is_a_404(world, system_user):
    assert system_user.post("/mondat/node-groups/", {"group": "nope", "action": "pause"}).status_code == 404


def test_viewers_operators_and_owner_admins_may_not_change_groups(world, viewer, operator, owner_admin):
    for client in (viewer, operator, owner_admin):
        assert client.post("/mondat/node-groups/", {"group": "master", "action": "pause"}).status_code == 403
    assert NodeGroup.objects.get(pk="master").paused is False


def test_what_the_page_shows_is_escaped(world, system_user):
    node = Node.objects.create(node_id="<b>n1</b>", group_id="master", host="<script>x</script>", pid=1,
                               workers=1, started_at=world.now(), last_seen_at=world.now())
    html = system_user.get("/mondat/node-groups/").content.decode()
    assert node.host not in html and "&lt;script&gt;x&lt;/script&gt;" in html and "&lt;b&gt;n1" in html


def test_the_page_reads_a_bounded_number_of_queries(world, django_assert_max_num_queries):
    for index in range(6):
        node_register(group=f"group-{index}", workers=2)
        Node.objects.create(node_id=f"extra-{index}", group_id=f"group-{index}", host="h", pid=index, workers=1,
                            started_at=world.now(), last_seen_at=world.now() - timedelta(minutes=5))
    figures_refresh()
    client = login(make_user("sys2", "system"))
    with django_assert_max_num_queries(10):
        assert client.get("/mondat/node-groups/").status_code == 200
