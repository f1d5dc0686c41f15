"""The Transaction page: renders in every status with the right why-line, escapes, scopes and stays cheap."""
import json
from datetime import timedelta

import pytest

from engine import conf
from engine.models import JournalEntry, Node, NodeGroup, StepRun, Transaction, WebhookDelivery
from engine.selectors import transaction_links
from engine.services.execution import tx_claim
from engine.steps import Step, register

PARENT = {"name": "parent", "steps": [{"name": "call", "type": "util/child-pipeline",
                                       "config": {"pipeline": "approval"}}]}
ABORTING = {"name": "aborting", "steps": [{"name": "stop", "type": "util/fixed-reply",
                                           "config": {"status": "aborted", "note": "stopped"}}]}
RAISING = {"name": "raising", "steps": [{"name": "explode", "type": "test/console-raises"}]}


@register
class Raises(Step):
    """Raise, so the transaction ends in internal_error."""

    type_name = "test/console-raises"
    config_schema = {"type": "object"}

    def invoke(self, ctx):
        raise RuntimeError("the console test step exploded")


def page(client, tx_id, **params):
    return client.get(f"/mondat/transactions/{tx_id}/", params)


def why_of(response):
    return response.context["why"]


def live_node(world, group="master", seconds_ago=1, node_id="node-a"):
    return Node.objects.create(node_id=node_id, group_id=group, host="h", pid=1, workers=2,
                               started_at=world.now(), last_seen_at=world.now() - timedelta(seconds=seconds_ago))


def queued(world):
    return world.start("echo", {"n": 1})


def running(world):
    tx_id = world.start("echo", {"n": 1})
    assert tx_claim(node_group="master", node="node-a").tx_id == tx_id
    return tx_id


def sleeping_on(world, pipeline):
    tx_id = world.start(pipeline, {})
    world.settle()
    assert world.result(tx_id).status == "sleeping"
    return tx_id


def finished(world, pipeline, **kwargs):
    tx_id = world.start(pipeline, {"n": 1}, **kwargs)
    world.run(tx_id)
    return tx_id


@pytest.fixture
def extra(world):
    world.load(PARENT, ABORTING, RAISING)
    return world


def timed_out(world):
    tx_id = world.start("approval", {}, deadline="PT1M")
    world.advance("PT2M")
    return tx_id


def cancelled(world):
    tx_id = sleeping_on(world, "approval")
    world.cancel(tx_id, reason="not needed")
    return tx_id


CASES = [
    ("queued", queued, "queued", "no live node serves its node group `master`"),
    ("running", running, "running", "running step `echo` on node node-a for 0 s"),
    ("timer", lambda w: sleeping_on(w, "nap"), "sleeping", "sleeping until "),
    ("switch", lambda w: sleeping_on(w, "approval"), "sleeping", "waiting for switch `approved` since 0 s"),
    ("callback", lambda w: sleeping_on(w, "hooked"), "sleeping", "waiting for callback `default`"),
    ("child", lambda w: sleeping_on(w, "parent"), "sleeping", "waiting for child tx-"),
    ("success", lambda w: finished(w, "echo"), "success", "succeeded just now"),
    ("failed", lambda w: finished(w, "failing"), "failed", "failed just now"),
    ("aborted", lambda w: finished(w, "aborting"), "aborted", "was aborted"),
    ("timeout", timed_out, "timeout", "timed out"),
    ("cancelled", cancelled, "cancelled", "was cancelled"),
    ("internal_error", lambda w: finished(w, "raising"), "internal_error", "ended with an internal error"),
]


@pytest.mark.parametrize(("case", "make", "status", "why"), CASES, ids=[case[0] for case in CASES])
def test_the_page_renders_in_every_status_with_its_why_line(extra, operator, case, make, status, why):
    tx_id = make(extra)
    response = page(operator, tx_id)
    assert response.status_code == 200
    assert response.context["tx"].status == status
    assert why in why_of(response).text
    assert why_of(response).text in response.content.decode()
    assert f'data-status="{status}"' in response.content.decode()


def test_callbacks_show_their_reports(world, operator):
    tx_id = hooked_with_reports(world)
    html = page(operator, tx_id).content.decode()
    assert "<code>default</code>" in html and "{&quot;n&quot;: 2}" in html


def test_the_child_line_links_to_the_child(extra, operator):
    tx_id = sleeping_on(extra, "parent")
    child_id = why_of(page(operator, tx_id)).facts["child_tx_id"]
    assert f'href="/mondat/transactions/{child_id}/"' in page(operator, tx_id).content.decode()
    child = page(operator, child_id)
    assert f'href="/mondat/transactions/{tx_id}/"' in child.content.decode()


def test_a_failed_transaction_shows_its_step_run_with_note_and_a_raising_one_its_traceback(extra, operator):
    failed = page(operator, finished(extra, "failing")).content.decode()
    assert "boom" in failed and "util/fail" in failed
    crashed = page(operator, finished(extra, "raising")).content.decode()
    assert "Traceback" in crashed and "the console test step exploded" in crashed


def test_active_pages_poll_their_status_block_and_finished_ones_do_not(world, operator):
    sleeping = page(operator, sleeping_on(world, "approval")).content.decode()
    assert 'hx-trigger="every 5s"' in sleeping
    done = page(operator, finished(world, "echo")).content.decode()
    assert "hx-trigger" not in done.split('id="tx-status"')[1].split(">")[0]


def test_the_status_block_asks_for_a_full_reload_when_the_status_changed(world, operator):
    tx_id = sleeping_on(world, "approval")
    url = f"/mondat/transactions/{tx_id}/status"
    same = operator.get(url, {"was": "sleeping"})
    assert same.status_code == 200 and "HX-Refresh" not in same
    assert "waiting for switch" in same.content.decode()
    world.set_switch(tx_id, "approved", True)
    world.run(tx_id)
    changed = operator.get(url, {"was": "sleeping"})
    assert changed["HX-Refresh"] == "true"


def test_an_empty_input_renders(world, operator):
    tx_id = world.start("echo", {})
    response = page(operator, tx_id)
    assert response.status_code == 200
    assert "<pre>{}</pre>" in response.content.decode()


def test_an_input_just_under_the_payload_limit_renders(world, operator):
    limit = conf.get("MAX_PAYLOAD_BYTES")
    body = {"blob": "x" * (limit - 1000)}
    assert len(json.dumps(body)) < limit
    tx_id = world.start("echo", body)
    world.run(tx_id)
    response = page(operator, tx_id)
    assert response.status_code == 200
    assert response.content.decode().count("x" * 1000) >= 2


def test_script_in_the_input_and_the_switch_history_is_escaped(world, operator):
    evil = "<script>alert(1)</script>"
    tx_id = world.start("approval", {"name": evil}, metadata={"note": evil})
    world.settle()
    world.set_switch(tx_id, "other", evil, reason=evil)
    html = page(operator, tx_id).content.decode()
    assert evil not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_another_owners_transaction_is_a_404_like_a_missing_one(world, other_operator):
    tx_id = sleeping_on(world, "approval")
    assert page(other_operator, tx_id).status_code == 404
    assert page(other_operator, "tx-missing").status_code == 404
    assert other_operator.get(f"/mondat/transactions/{tx_id}/status").status_code == 404


def test_a_viewer_sees_no_action_buttons(world, viewer, operator):
    tx_id = sleeping_on(world, "approval")
    seen = page(viewer, tx_id).content.decode()
    assert page(viewer, tx_id).status_code == 200
    assert "<form method=\"post\" action=\"/mondat/transactions/" not in seen
    assert "Wake now" not in seen and "Set switch" not in seen
    assert "Wake now" in page(operator, tx_id).content.decode()


def test_queued_says_how_many_are_ahead_when_a_node_is_live(world, operator):
    live_node(world)
    first, second = world.start("echo", {}), world.start("echo", {})
    world.clock.sleep(1)
    third = world.start("echo", {})
    assert "next in line" in why_of(page(operator, first)).text
    assert "behind 2 queued" in why_of(page(operator, third)).text
    assert why_of(page(operator, second)).code in {"next", "behind"}


def test_queued_names_a_paused_group_and_a_group_at_its_limit(world, operator):
    live_node(world)
    running(world)
    tx_id = world.start("echo", {})
    NodeGroup.objects.filter(pk="master").update(paused=True)
    assert "node group `master` is paused" in why_of(page(operator, tx_id)).text
    NodeGroup.objects.filter(pk="master").update(paused=False, max_concurrency=1)
    assert "at its concurrency limit (1 of 1 running)" in why_of(page(operator, tx_id)).text


def test_running_warns_when_the_nodes_heartbeat_is_stale(world, operator):
    node = live_node(world, seconds_ago=2)
    tx_id = running(world)
    assert why_of(page(operator, tx_id)).code == "running"
    Node.objects.filter(pk=node.pk).update(last_seen_at=world.now() - timedelta(minutes=5))
    why = why_of(page(operator, tx_id))
    assert why.code == "stale" and "heartbeat is stale (last seen 5 min ago)" in why.text


def test_the_step_runs_and_journal_show_the_newest_200_with_a_link_to_older(world, operator):
    tx_id = world.start("echo", {})
    world.run(tx_id)
    JournalEntry.objects.bulk_create([JournalEntry(tx_id=tx_id, at=world.now(), kind="note", actor="t", data={"i": i})
                                      for i in range(250)])
    response = page(operator, tx_id)
    rows = response.context["journal_rows"]
    assert len(rows) == 200 and rows[-1][0].data == {"i": 249}
    older = response.context["detail"].journal.older
    assert f"?journal_before={older}" in response.content.decode()
    earlier = page(operator, tx_id, journal_before=older).context["journal_rows"]
    total = JournalEntry.objects.filter(tx_id=tx_id).count()
    assert earlier[-1][0].pk < older and len(earlier) == total - 200


def hooked_with_reports(world):
    tx_id = sleeping_on(world, "hooked")
    for n in range(3):
        world.report_callback(tx_id, "progress", {"n": n})
    return tx_id


def queued_behind_a_live_node(world):
    live_node(world)
    world.start("echo", {})
    return world.start("echo", {})


def running_on_a_live_node(world):
    live_node(world)
    return running(world)


@pytest.mark.parametrize("make", [lambda w: sleeping_on(w, "parent"), hooked_with_reports, queued_behind_a_live_node,
                                  running_on_a_live_node, lambda w: finished(w, "failing")],
                         ids=["child", "callback", "queued", "running", "failed"])
def test_the_page_reads_a_bounded_number_of_queries(extra, operator, django_assert_max_num_queries, make):
    tx_id = make(extra)
    if Transaction.objects.get(pk=tx_id).is_finished is False:
        extra.set_switch(tx_id, "x", 1)
    page(operator, tx_id)
    with django_assert_max_num_queries(16):
        assert page(operator, tx_id).status_code == 200
    with django_assert_max_num_queries(9):
        assert operator.get(f"/mondat/transactions/{tx_id}/status").status_code == 200


def test_the_step_runs_show_the_newest_200_with_a_link_to_older(world, operator):
    tx_id = finished(world, "echo")
    StepRun.objects.bulk_create([StepRun(tx_id=tx_id, seq=seq, step="echo", step_type="util/echo", status="success",
                                         started_at=world.now(), ended_at=world.now()) for seq in range(2, 252)])
    response = page(operator, tx_id)
    runs = [row["run"].seq for row in response.context["step_rows"]]
    assert runs == list(range(52, 252))
    assert "?steps_before=52" in response.content.decode()
    assert [row["run"].seq for row in page(operator, tx_id, steps_before=52).context["step_rows"]] == list(range(1, 52))


def test_a_post_without_the_csrf_token_is_refused(world):
    from django.test import Client

    from tests.monitoring.conftest import make_user

    client = Client(enforce_csrf_checks=True)
    client.force_login(make_user("carl", "operator", [world.owner]))
    tx_id = sleeping_on(world, "approval")
    assert client.post(f"/mondat/transactions/{tx_id}/cancel", {"reason": "forged"}).status_code == 403
    assert Transaction.objects.get(pk=tx_id).status == "sleeping"


def test_webhook_deliveries_are_listed_with_their_last_error(world, operator):
    tx_id = finished(world, "echo", webhook="https://hooks.example.com/datp")
    WebhookDelivery.objects.filter(tx_id=tx_id).update(status="dead", attempts=12, last_error="HTTP 500 from x")
    html = page(operator, tx_id).content.decode()
    assert "transaction." in html and "HTTP 500 from x" in html and "Re-send" in html


def test_the_apis_console_link_leads_to_the_page_without_append_slash(extra, operator, settings):
    settings.APPEND_SLASH = False
    tx_id = sleeping_on(extra, "parent")
    link = transaction_links(tx_id=tx_id)["console"]
    assert not link.endswith("/")
    response = operator.get(f"{link}?from=api")
    assert response.status_code == 302 and response["Location"] == f"/mondat/transactions/{tx_id}/?from=api"
    assert operator.get(response["Location"]).status_code == 200
