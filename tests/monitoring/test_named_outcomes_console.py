"""The console shows named outcomes: a step run's outcome name on the Transaction page, and the routes of
named outcomes and `*` in a pipeline's flow drawing."""
from monitoring.flow import pipeline_flow
from tests import named_outcomes  # noqa: F401  (registers test/outcomes-approve)


EXPENSE = {"name": "expense-console", "steps": [
    {"name": "approve", "type": "test/outcomes-approve", "on": {"approved": "pay", "*": "notify"}},
    {"name": "pay", "type": "util/echo", "on": {"success": "end"}},
    {"name": "notify", "type": "util/echo"}]}


def test_the_transaction_page_shows_a_step_runs_named_outcome(world, viewer):
    world.load(EXPENSE)
    tx_id = world.start("expense-console", {"answer": "rejected"})
    world.run(tx_id)
    html = viewer.get(f"/mondat/transactions/{tx_id}/").content.decode()
    assert '<span class="mono outcome" title="its named outcome">rejected</span>' in html
    assert html.count('class="mono outcome"') == 1  # the fixed outcome of `notify` is its status alone


def test_the_flow_draws_named_routes_and_star_and_no_implicit_next_step_beside_star():
    flow = pipeline_flow(EXPENSE["steps"])
    edges = sorted((edge.outcome, edge.implicit) for edge in flow["edges"])
    assert edges == [("*", False), ("approved", False), ("success", False), ("success", True)]


def test_the_pipeline_page_labels_the_named_routes(world, viewer):
    world.load(EXPENSE)
    html = viewer.get("/mondat/pipelines/expense-console/").content.decode()
    assert ">approved</text>" in html and ">*</text>" in html
