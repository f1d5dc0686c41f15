"""The Failures page: failures of a time window grouped by type and step, the last error, retry."""
import pytest

from engine.models import JournalEntry
from engine.steps.base import Step
from engine.steps.registry import register
from tests.monitoring.conftest import login, make_user

URL = "/mondat/failures/"
ALL_FAILURES = "aborted,failed,internal_error,timeout"


@register
class OnFire(Step):
    """Raise an exception whose text holds markup, to see it escaped."""

    type_name = "test/failures-on-fire"

    def invoke(self, ctx):
        raise RuntimeError("<b>the card processor</b> is on fire")


RAISES = {"name": "raises", "steps": [{"name": "charge", "type": "test/failures-on-fire"}]}


@pytest.fixture
def failures(world):
    """Three `failing` transactions failed at `boom`, one internal error at `charge`, one timed out at `approval`."""
    world.load(RAISES)
    ids = {"failing": [world.start("failing", {}) for _ in range(3)], "raises": world.start("raises", {}),
           "timeout": world.start("approval", {}, deadline="PT1M")}
    world.advance("PT2M")
    assert world.result(ids["raises"]).status == "internal_error"
    assert world.result(ids["timeout"]).status == "timeout"
    return ids


def groups_by_key(response):
    return {(g["pipeline_name"], g["step_name"]): g for g in response.context["groups"]}


def test_failures_are_grouped_by_type_and_step_with_counts(viewer, failures):
    response = viewer.get(URL)
    assert response.status_code == 200
    groups = groups_by_key(response)
    assert set(groups) == {("failing", "boom"), ("raises", "charge"), ("approval", "approval")}
    assert groups["failing", "boom"]["count"] == 3
    assert groups["failing", "boom"]["statuses"]["failed"] == 3
    assert groups["raises", "charge"]["statuses"]["internal_error"] == 1
    assert groups["approval", "approval"]["statuses"]["timeout"] == 1


def test_each_group_shows_its_last_error_escaped(viewer, failures):
    response = viewer.get(URL)
    groups = groups_by_key(response)
    assert groups["failing", "boom"]["last_error"] == "boom"
    assert "Traceback" in groups["raises", "charge"]["last_error"]
    assert groups["raises", "charge"]["latest"][0].error_summary == (
        "RuntimeError: <b>the card processor</b> is on fire")
    body = response.content.decode()
    assert "&lt;b&gt;the card processor&lt;/b&gt; is on fire" in body
    assert "<b>the card processor</b>" not in body


def test_a_group_lists_its_latest_few_newest_first(viewer, world, failures):
    world.advance("PT1M")
    newer = [world.start("failing", {}) for _ in range(2)]
    world.settle()
    latest = groups_by_key(viewer.get(URL))["failing", "boom"]["latest"]
    assert len(latest) == 3
    assert {tx.pk for tx in latest[:2]} == set(newer)
    assert latest[0].completed_at >= latest[-1].completed_at


def test_groups_link_to_the_filtered_list_and_a_bulk_retry(operator, failures):
    response = operator.get(URL)
    group = groups_by_key(response)["failing", "boom"]
    since = response.context["since"].isoformat().replace("+00:00", "Z").replace(":", "%3A").replace("+", "%2B")
    query = f"status={ALL_FAILURES.replace(',', '%2C')}&transaction_type=failing&created_after={since}"
    assert group["list_url"] == f"/mondat/transactions/?{query}"
    assert group["bulk_retry_url"] == f"/mondat/bulk/retry/?{query}"
    assert group["bulk_retry_url"].replace("&", "&amp;") in response.content.decode()


def test_the_window_leaves_out_older_failures_until_widened(viewer, world, failures):
    world.advance("P8D")
    assert viewer.get(URL).context["groups"] == []
    assert viewer.get(URL, {"window": "24h"}).context["groups"] == []
    groups = groups_by_key(viewer.get(URL, {"window": "30d"}))
    assert groups["failing", "boom"]["count"] == 3


def test_the_status_and_type_filters_narrow_the_groups(operator, failures):
    assert set(groups_by_key(operator.get(URL, {"status": "timeout"}))) == {("approval", "approval")}
    response = operator.get(URL, {"transaction_type": "failing"})
    assert set(groups_by_key(response)) == {("failing", "boom")}
    response = operator.get(URL, {"status": "failed"})
    assert "status=failed&" in groups_by_key(response)["failing", "boom"]["bulk_retry_url"]


def test_an_unknown_window_or_status_falls_back_to_the_defaults(viewer, failures):
    response = viewer.get(URL, {"window": "forever", "status": "success"})
    assert response.context["window"] == "7d"
    assert response.context["status"] == ""
    assert len(response.context["groups"]) == 3


def test_another_owners_failures_never_appear(other_operator, failures):
    response = other_operator.get(URL)
    assert response.context["groups"] == []
    assert failures["raises"] not in response.content.decode()


def test_a_system_user_sees_every_owners_failures(system_user, world, failures):
    with world.__class__(owner="other", start_at=world.now()) as other_world:
        theirs = other_world.run(other_world.start("failing", {}))
    group = groups_by_key(system_user.get(URL))["failing", "boom"]
    assert group["count"] == 4
    assert theirs.tx.pk in {tx.pk for tx in group["latest"]}


def test_a_viewer_sees_no_retry_button_and_a_forged_retry_is_forbidden(viewer, world, failures):
    body = viewer.get(URL).content.decode()
    assert "/retry" not in body
    assert "Bulk retry" not in body
    tx_id = failures["failing"][0]
    assert viewer.post(f"/mondat/failures/{tx_id}/retry", {"reason": "x"}).status_code == 403
    assert world.result(tx_id).status == "failed"


def test_an_operator_retries_one_and_the_journal_names_the_user(operator, world, failures):
    tx_id = failures["raises"]
    assert f'action="/mondat/failures/{tx_id}/retry"' in operator.get(URL).content.decode()
    response = operator.post(f"/mondat/failures/{tx_id}/retry", {"reason": "processor is back", "next": URL})
    assert response.status_code == 302
    assert world.result(tx_id).status == "queued"
    entry = JournalEntry.objects.filter(tx_id=tx_id, kind="retry").last()
    assert entry.actor == "user:otto"
    assert entry.data["reason"] == "processor is back"
    assert ("raises", "charge") not in groups_by_key(operator.get(URL))


def test_retrying_what_cannot_be_retried_says_why(operator, world):
    tx_id = world.start("echo", {})
    world.run(tx_id)
    response = operator.post(f"/mondat/failures/{tx_id}/retry", follow=True)
    assert response.status_code == 200
    assert "cannot be retried" in response.content.decode()
    assert world.result(tx_id).status == "success"


def test_retrying_another_owners_transaction_is_a_404(other_operator, world, failures):
    tx_id = failures["failing"][0]
    assert other_operator.post(f"/mondat/failures/{tx_id}/retry").status_code == 404
    assert world.result(tx_id).status == "failed"


def test_a_member_of_two_owners_sees_both(world, failures):
    both = login(make_user("bo", "viewer", [world.owner, "other"]))
    with world.__class__(owner="other", start_at=world.now()) as other_world:
        other_world.run(other_world.start("failing", {}))
    assert groups_by_key(both.get(URL))["failing", "boom"]["count"] == 4


def test_the_query_count_does_not_grow_with_groups_or_rows(viewer, world, django_assert_max_num_queries):
    world.load(RAISES)
    world.run(world.start("failing", {}))
    with django_assert_max_num_queries(8) as few:
        viewer.get(URL)
    for _ in range(6):
        world.start("failing", {})
        world.start("raises", {})
    world.start("approval", {}, deadline="PT1M")
    world.advance("PT2M")
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = viewer.get(URL)
    assert len(response.context["groups"]) == 3
