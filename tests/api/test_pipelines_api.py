"""The pipelines endpoints: anyone with a key reads them; only system credentials publish and roll back."""
import pytest

from engine.models import Pipeline, PipelineVersion
from engine.services.pipelines import node_group_ensure
from tests.api.conftest import PIPELINES, client_for, start

PIPES = "/api/v1/pipelines"
GREET = {"description": "Say hello.", "steps": [{"name": "hello", "type": "util/echo"}]}


@pytest.fixture
def system_api(api, harness):
    return client_for(harness.owner, "ops", system=True)


def publish(client, name, definition):
    return client.put(f"{PIPES}/{name}", definition, format="json")


def test_the_list_shows_every_pipeline_with_its_version_in_use_to_every_owner(api, other_api):
    body = api.get(PIPES).json()
    assert [p["name"] for p in body["results"]] == sorted(p["name"] for p in PIPELINES)
    echo = next(p for p in body["results"] if p["name"] == "echo")
    assert echo == {"name": "echo", "description": "", "node_group": "master", "transaction_type": True,
                    "version": Pipeline.objects.get(pk="echo").current_version_id, "versions": 1,
                    "steps": [{"name": "echo", "type": "util/echo", "config": {}}]}
    helper = next(p for p in body["results"] if p["name"] == "helper")
    assert helper["transaction_type"] is False
    assert other_api.get(PIPES).json() == body


def test_publishing_a_new_definition_creates_a_version_and_puts_it_in_use(system_api, api):
    response = publish(system_api, "greet", GREET)
    assert response.status_code == 200
    first = response.json()
    assert first["created"] is True and len(first["version"]) == 64
    assert publish(system_api, "greet", {**GREET, "name": "greet"}).json() == {**first, "created": False}
    second = publish(system_api, "greet", {**GREET, "description": "Say hello twice."}).json()
    assert second["created"] is True and second["version"] != first["version"]
    detail = api.get(f"{PIPES}/greet").json()
    assert detail["version"] == second["version"] and detail["description"] == "Say hello twice."
    assert [(v["version"], v["in_use"]) for v in detail["versions"]] == [
        (first["version"], False), (second["version"], True)]
    assert all(v["created_at"].endswith("Z") for v in detail["versions"])
    assert start(api, "greet")


def test_a_normal_key_may_not_publish_or_roll_back(api):
    response = publish(api, "greet", GREET)
    assert response.status_code == 403 and response.json()["code"] == "permission_denied"
    version = Pipeline.objects.get(pk="echo").current_version_id
    response = api.post(f"{PIPES}/echo/versions/{version}/use")
    assert response.status_code == 403 and response.json()["code"] == "permission_denied"
    assert not Pipeline.objects.filter(pk="greet").exists()


def test_an_invalid_definition_lists_every_problem_and_stores_nothing(system_api):
    response = publish(system_api, "broken", {"steps": [
        {"name": "a", "type": "util/nope"},
        {"name": "a", "type": "util/sleep", "config": {"duration": "soon"}, "on": {"failed": "nowhere"}},
    ]})
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_pipeline"
    errors = body["extra"]["errors"]
    assert "steps[0].type: unknown step type 'util/nope'" in errors
    assert "steps[1].name: duplicate step name 'a'" in errors
    assert "steps[1].config.duration: not an ISO 8601 duration" in errors
    assert "steps[1].on.failed: route to unknown step 'nowhere'" in errors
    assert not Pipeline.objects.filter(pk="broken").exists()


def test_a_misspelt_step_type_or_a_missing_child_pipeline_says_what_to_do(system_api):
    response = publish(system_api, "orders", {"steps": [
        {"name": "a", "type": "util/sleap", "config": {"duration": "PT1M"}},
        {"name": "b", "type": "util/child-pipeline", "config": {"pipeline": "helpr"}},
        {"name": "c", "type": "util/call", "config": {"transaction_type": "orders"}},
    ]})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_pipeline"
    assert response.json()["extra"]["errors"] == [
        "steps[0].type: unknown step type 'util/sleap': did you mean `util/sleep`?",
        "steps[1].config.pipeline: no pipeline named 'helpr': did you mean `helper`?",
    ]
    assert not Pipeline.objects.filter(pk="orders").exists()


def test_a_definition_naming_another_pipeline_is_refused(system_api):
    response = publish(system_api, "greet", {**GREET, "name": "other"})
    assert response.status_code == 400 and response.json()["extra"]["fields"] == {
        "name": ["Must match the name in the URL."]}
    assert not Pipeline.objects.filter(pk__in=["greet", "other"]).exists()


def test_an_unknown_node_group_is_invalid_pipeline_until_it_exists(system_api):
    response = publish(system_api, "greet", {**GREET, "node_group": "gpu"})
    assert response.status_code == 400 and response.json()["code"] == "invalid_pipeline"
    assert response.json()["extra"]["errors"] == ["node_group: no node group named 'gpu'"]
    node_group_ensure(name="gpu")
    assert publish(system_api, "greet", {**GREET, "node_group": "gpu"}).status_code == 200


def test_a_bad_pipeline_name_in_the_url_is_invalid_pipeline(system_api):
    response = publish(system_api, "Not_Lower", GREET)
    assert response.status_code == 400 and response.json()["code"] == "invalid_pipeline"


def test_using_an_earlier_version_rolls_back_and_running_transactions_keep_theirs(system_api, api, harness):
    first = publish(system_api, "greet", GREET).json()["version"]
    second = publish(system_api, "greet", {**GREET, "steps": [
        {"name": "hello", "type": "util/fixed-reply", "config": {"reply": {"v": 2}}}]}).json()["version"]
    on_second = start(api, "greet")
    response = system_api.post(f"{PIPES}/greet/versions/{first}/use")
    assert response.status_code == 200
    assert response.json()["version"] == first
    assert {v["version"]: v["in_use"] for v in response.json()["versions"]} == {first: True, second: False}
    on_first = start(api, "greet", data={"v": 1})
    assert harness.run(on_second).data == {"v": 2}
    assert harness.run(on_first).data == {"v": 1}


def test_using_an_unknown_version_or_pipeline_is_not_found(system_api):
    echo_version = PipelineVersion.objects.get(pipeline_id="echo").version
    for url in (f"{PIPES}/echo/versions/{'0' * 64}/use", f"{PIPES}/nope/versions/{echo_version}/use",
                f"{PIPES}/approval/versions/{echo_version}/use"):
        response = system_api.post(url)
        assert response.status_code == 404 and response.json()["code"] == "not_found"


def test_an_unknown_pipeline_is_not_found(api):
    response = api.get(f"{PIPES}/nope")
    assert response.status_code == 404 and response.json()["code"] == "not_found"


def test_pipelines_need_credentials(anon):
    assert anon.get(PIPES).status_code == 401
    assert anon.put(f"{PIPES}/greet", GREET, format="json").status_code == 401
