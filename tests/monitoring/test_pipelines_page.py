"""MONDAT's Pipelines pages: list, detail (flow, step figures, versions, definition), export, load and rollback."""
import json
from datetime import timedelta

import pytest

from engine.models import Pipeline, PipelineVersion, StepRun
from engine.services.pipelines import pipeline_publish

ROUTED = {
    "name": "routed",
    "description": "Check <b>fields</b> & route",
    "steps": [
        {"name": "check", "type": "util/mandatory-fields", "config": {"fields": ["id"]}, "on": {"failed": "fix"}},
        {"name": "done", "type": "util/echo", "on": {"success": "end"}},
        {"name": "fix", "type": "util/set", "config": {"values": {"id": 1}}, "on": {"success": "check"}},
    ],
}


def test_pipeline_list_shows_each_pipeline_with_its_version_group_and_step_count(world, viewer,
                                                                                  django_assert_max_num_queries):
    with django_assert_max_num_queries(8):
        response = viewer.get("/mondat/pipelines/")
    assert response.status_code == 200
    rows = {row["name"]: row for row in response.context["pipelines"]}
    assert set(rows) >= {"echo", "approval", "failing", "nap", "hooked", "helper"}
    assert rows["approval"]["step_count"] == 2
    assert rows["approval"]["node_group"] == "master"
    assert rows["helper"]["transaction_type"] is False
    assert rows["echo"]["version"] == Pipeline.objects.get(name="echo").current_version_id
    assert b'href="/mondat/pipelines/approval/"' in response.content
    assert b"Load a definition" not in response.content


def test_pipeline_list_counts_the_last_days_step_runs_and_failures(world, viewer):
    for _ in range(2):
        world.run(world.start("failing"))
    world.run(world.start("echo"))
    rows = {row["name"]: row for row in viewer.get("/mondat/pipelines/").context["pipelines"]}
    assert (rows["failing"]["runs"], rows["failing"]["failures"]) == (2, 2)
    assert (rows["echo"]["runs"], rows["echo"]["failures"]) == (1, 0)
    world.advance("P1DT1H")
    rows = {row["name"]: row for row in viewer.get("/mondat/pipelines/").context["pipelines"]}
    assert rows["failing"]["runs"] == 0


def _add_run(tx_id, seq, duration_ms, status="success", at=None):
    """A finished step run of the step `echo` lasting `duration_ms`."""
    started_at = at
    StepRun.objects.create(tx_id=tx_id, seq=seq, step="echo", step_type="util/echo", status=status,
                           started_at=started_at, ended_at=started_at + timedelta(milliseconds=duration_ms))


def test_pipeline_detail_shows_runs_failures_and_median_duration_per_step(world, viewer,
                                                                           django_assert_max_num_queries):
    tx_id = world.start("echo")
    world.run(tx_id)
    for seq, (duration_ms, status) in enumerate([(300, "success"), (2000, "failed"), (400, "success")], start=2):
        _add_run(tx_id, seq, duration_ms, status, at=world.now())
    _add_run(tx_id, 9, 9999, at=world.now() - timedelta(days=2))
    world.run(world.start("failing"))
    with django_assert_max_num_queries(9):
        response = viewer.get("/mondat/pipelines/echo/")
    assert response.status_code == 200
    (row,) = response.context["steps"]
    assert row["stats"]["runs"] == 4
    assert row["stats"]["failures"] == 1
    assert row["stats"]["median_ms"] == pytest.approx(350)
    assert b"350 ms" in response.content
    failing = viewer.get("/mondat/pipelines/failing/").context["steps"][0]["stats"]
    assert (failing["runs"], failing["failures"]) == (1, 1)


def test_step_figures_count_only_the_users_owners_but_every_owner_for_system_users(world, viewer, system_user):
    world.run(world.start("echo"))
    for _ in range(2):
        world.run(world.start("echo", owner="other"))
    mine = viewer.get("/mondat/pipelines/echo/").context["steps"][0]["stats"]
    everyone = system_user.get("/mondat/pipelines/echo/").context["steps"][0]["stats"]
    assert mine["runs"] == 1
    assert everyone["runs"] == 3
    listed = {row["name"]: row for row in viewer.get("/mondat/pipelines/").context["pipelines"]}
    assert listed["echo"]["runs"] == 1


def test_pipeline_detail_draws_the_steps_and_routes_as_an_escaped_flow(world, viewer):
    pipeline_publish(definition=ROUTED)
    response = viewer.get("/mondat/pipelines/routed/")
    html = response.content.decode()
    flow = response.context["flow"]
    assert [box.name for box in flow["boxes"]] == ["check", "done", "fix", "end"]
    outcomes = sorted((edge.outcome, edge.implicit) for edge in flow["edges"])
    assert outcomes == [("failed", False), ("success", False), ("success", False), ("success", True)]
    assert "<svg" in html and ">failed</text>" in html and ">util/mandatory-fields</text>" in html
    assert "Check &lt;b&gt;fields&lt;/b&gt; &amp; route" in html
    assert "<b>fields</b>" not in html


def test_pipeline_detail_lists_versions_and_shows_the_chosen_versions_definition(world, viewer):
    first = Pipeline.objects.get(name="echo").current_version_id
    world.advance("PT1M")
    second, _ = pipeline_publish(definition={"name": "echo", "description": "second", "steps": [{"type": "util/echo"}]})
    response = viewer.get("/mondat/pipelines/echo/")
    assert [v.version for v in response.context["versions"]] == [second.version, first]
    assert response.context["shown"].version == second.version
    assert '"description": "second"' in response.context["definition"]
    older = viewer.get(f"/mondat/pipelines/echo/?version={first}")
    assert older.context["shown"].version == first
    assert '"description": ""' in older.context["definition"]
    assert b"Roll back" not in older.content
    assert viewer.get("/mondat/pipelines/echo/?version=nope").status_code == 404
    assert viewer.get("/mondat/pipelines/nope/").status_code == 404


def test_any_user_exports_a_version_as_a_json_download(world, viewer):
    version = Pipeline.objects.get(name="approval").current_version
    response = viewer.get(f"/mondat/pipelines/approval/versions/{version.version}.json")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Content-Disposition"] == f'attachment; filename="approval-{version.version[:12]}.json"'
    assert json.loads(response.content) == version.definition
    assert viewer.get("/mondat/pipelines/approval/versions/nope.json").status_code == 404
    assert viewer.get(f"/mondat/pipelines/echo/versions/{version.version}.json").status_code == 404


def test_an_invalid_definition_shows_every_problem_and_stores_nothing(world, system_user):
    pipelines, versions = Pipeline.objects.count(), PipelineVersion.objects.count()
    bad = {"name": "Bad Name", "steps": [
        {"name": "a", "type": "util/nope"},
        {"name": "a", "type": "util/sleep", "config": {"duration": "soon"}, "on": {"failed": "ghost"}},
    ]}
    response = system_user.post("/mondat/pipelines/_load/", {"definition": json.dumps(bad), "action": "publish"})
    assert response.status_code == 400
    errors = response.context["errors"]
    assert len(errors) >= 4
    assert any(e.startswith("name:") for e in errors)
    assert any("unknown step type" in e for e in errors)
    assert any("duplicate step name" in e for e in errors)
    assert any("steps[1].on.failed" in e for e in errors)
    for error in errors:
        assert error.replace("'", "&#x27;").encode() in response.content
    assert (Pipeline.objects.count(), PipelineVersion.objects.count()) == (pipelines, versions)


def test_text_that_is_not_json_or_names_a_missing_node_group_is_refused(world, system_user):
    response = system_user.post("/mondat/pipelines/_load/", {"definition": "{oops", "action": "publish"})
    assert response.status_code == 400
    assert response.context["errors"][0].startswith("(root): not valid JSON")
    stray = {"name": "stray", "node_group": "nowhere", "steps": [{"type": "util/echo"}]}
    response = system_user.post("/mondat/pipelines/_load/", {"definition": json.dumps(stray), "action": "publish"})
    assert response.status_code == 400
    assert "node_group: no node group named 'nowhere'" in response.context["errors"]
    assert not Pipeline.objects.filter(name="stray").exists()


def test_check_validates_without_storing_and_publish_makes_the_version_the_one_in_use(world, system_user):
    text = json.dumps(ROUTED)
    checked = system_user.post("/mondat/pipelines/_load/", {"definition": text, "action": "check"})
    assert checked.status_code == 200
    assert checked.context["checked"]["name"] == "routed"
    assert not Pipeline.objects.filter(name="routed").exists()
    published = system_user.post("/mondat/pipelines/_load/", {"definition": text, "action": "publish"})
    assert published.status_code == 302
    assert published["Location"] == "/mondat/pipelines/routed/"
    pipeline = Pipeline.objects.get(name="routed")
    assert pipeline.current_version.definition["steps"][0]["name"] == "check"
    page = system_user.get("/mondat/pipelines/routed/")
    assert b"Published version" in page.content


def test_the_load_page_is_prefilled_from_a_pipelines_definition_in_use(world, system_user):
    response = system_user.get("/mondat/pipelines/_load/?from=approval")
    assert response.status_code == 200
    assert json.loads(response.context["text"])["name"] == "approval"
    assert system_user.get("/mondat/pipelines/_load/?from=nope").status_code == 404


def test_a_system_user_rolls_back_to_an_earlier_version(world, system_user):
    first = Pipeline.objects.get(name="echo").current_version_id
    world.advance("PT1M")
    second, _ = pipeline_publish(definition={"name": "echo", "description": "second", "steps": [{"type": "util/echo"}]})
    page = system_user.get("/mondat/pipelines/echo/")
    assert b"Roll back to this version" in page.content
    response = system_user.post(f"/mondat/pipelines/echo/versions/{first}/use/")
    assert response.status_code == 302
    assert Pipeline.objects.get(name="echo").current_version_id == first
    tx = world.run(world.start("echo"))
    assert tx.tx.version_id == first
    assert system_user.post("/mondat/pipelines/echo/versions/nope/use/").status_code == 404
    assert Pipeline.objects.get(name="echo").current_version_id == first != second.version


def test_operators_cannot_load_publish_or_roll_back_pipelines(world, operator, owner_admin):
    first = Pipeline.objects.get(name="echo").current_version_id
    pipeline_publish(definition={"name": "echo", "description": "second", "steps": [{"type": "util/echo"}]})
    for client in (operator, owner_admin):
        assert client.get("/mondat/pipelines/_load/").status_code == 403
        response = client.post("/mondat/pipelines/_load/", {"definition": json.dumps(ROUTED), "action": "publish"})
        assert response.status_code == 403
        assert client.post(f"/mondat/pipelines/echo/versions/{first}/use/").status_code == 403
        page = client.get("/mondat/pipelines/echo/")
        assert b"Roll back" not in page.content and b"Load a new version" not in page.content
    assert not Pipeline.objects.filter(name="routed").exists()
    assert Pipeline.objects.get(name="echo").current_version_id != first


def test_pipeline_pages_need_a_login(world, client):
    response = client.get("/mondat/pipelines/")
    assert response.status_code == 302
    assert response["Location"].startswith("/mondat/login/")


def test_check_names_a_missing_child_pipeline_and_a_misspelt_step_type(world, system_user):
    text = json.dumps({"name": "orders", "steps": [
        {"name": "a", "type": "util/sleap", "config": {"duration": "PT1M"}},
        {"name": "b", "type": "util/child-pipeline", "config": {"pipeline": "no-such-child"}},
    ]})
    checked = system_user.post("/mondat/pipelines/_load/", {"definition": text, "action": "check"})
    assert checked.status_code == 400
    assert checked.context["errors"] == [
        "steps[0].type: unknown step type 'util/sleap': did you mean `util/sleep`?",
        "steps[1].config.pipeline: no pipeline named 'no-such-child'",
    ]


def test_the_flow_names_the_rules_of_a_choice_on_its_arrows(world, viewer):
    pipeline_publish(definition={"name": "expense-flow", "steps": [
        {"name": "decide", "type": "util/choice", "config": {
            "rules": [{"when": {"path": "/amount", "gt": 1000}, "outcome": "review"},
                      {"when": {"path": "/amount", "gt": 0}, "outcome": "approve", "description": "small <ok>"}],
            "default": "reject"},
         "on": {"review": "end", "approve": "pay", "reject": "end"}},
        {"name": "pay", "type": "util/echo"}]})
    response = viewer.get("/mondat/pipelines/expense-flow/")
    whys = {edge.outcome: edge.why for edge in response.context["flow"]["edges"]}
    assert whys == {"review": "rule 1: /amount > 1000", "approve": "rule 2: small <ok>", "reject": "otherwise",
                    "success": ""}
    html = response.content.decode()
    assert "<title>review: rule 1: /amount &gt; 1000</title>" in html
    assert "<title>approve: rule 2: small &lt;ok&gt;</title>" in html
