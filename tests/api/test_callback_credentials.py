"""Callback tokens are credentials (issue 15): only their hash is stored, no data that flows on carries
them, the owner reads the open callback's URL through the API, and the token stops working once its
callback or its transaction is final; DATP_CALLBACK_REQUIRES_KEY binds it to the owner's keys too."""
import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

from engine import conf, tokens
from engine.models import Callback, Transaction
from engine.selectors import transaction_as_dict, transaction_get
from engine.services.webhooks import webhooks_deliver_due
from engine.steps import Step, registry
from tests.api.conftest import client_for, start
from tests.engine.test_webhooks import private_ok, receiver  # noqa: F401 (fixtures)
from tests.monitoring.conftest import login, make_user

PARTNER = []


class TellPartner(Step):
    """Give the partner the URL of the callback whose marker is in the input, as an integration would;
    and carelessly log it and put it in the progress report and the output."""

    type_name = "test/tell-partner"

    def invoke(self, ctx):
        found = ctx.reveal_callback(ctx.input["callback"]["token"])
        PARTNER.append(found["url"])
        ctx.log.info("told the partner %s", found["url"])
        ctx.progress({"told": found["url"]})
        return ctx.succeeded(output={**ctx.input, "told": found["url"]})


SCENARIO = [
    {"name": "flow", "steps": [
        {"name": "cb", "type": "util/callback", "config": {"name": "pay", "callback_data": {"order": 7}}},
        {"name": "tell", "type": "test/tell-partner"},
        {"name": "call", "type": "util/call",
         "config": {"transaction_type": "work", "background": True, "callback": "pay"}},
        {"name": "await", "type": "util/await", "config": {"callback": "pay"}},
        {"name": "after", "type": "util/child-pipeline", "config": {"pipeline": "kid"}},
    ]},
    {"name": "work", "transaction_type": False, "steps": [
        {"name": "tell", "type": "test/tell-partner"},
        {"name": "report", "type": "util/callback-update", "config": {"status": "progress", "data": {"pct": 50}}},
        {"name": "hold", "type": "util/wait-switch", "config": {"switch": "done"}},
    ]},
    {"name": "kid", "transaction_type": False, "steps": [{"name": "echo", "type": "util/echo"}]},
]


@pytest.fixture
def partner_step():
    PARTNER.clear()
    registry.register(TellPartner)
    yield PARTNER
    registry.unregister(TellPartner.type_name)


def everything_stored():
    """Every engine table, as JSON text."""
    out = io.StringIO()
    call_command("dumpdata", "engine", stdout=out)
    return out.getvalue()


def test_a_finished_transaction_leaves_its_callback_token_nowhere(api, anon, harness, partner_step, receiver,
                                                                  private_ok, caplog):
    caplog.set_level(logging.DEBUG)
    harness.load(*SCENARIO)
    tx_id = start(api, "flow", data={"order": 7}, webhook=receiver.url, webhook_progress=True)
    harness.settle()
    [work] = Transaction.objects.filter(parent_id=tx_id, pipeline_name="work")
    assert harness.result(work.pk).status == "sleeping"
    url = api.get(f"/api/v1/transactions/{tx_id}").json()["waiting"]["url"]
    assert set(partner_step) == {url}
    token = url.rsplit("/", 1)[1]
    assert token == harness.callback_token(tx_id, "pay")

    reply = anon.post(url, {"status": "complete", "data": {"approved": True}}, format="json")
    assert reply.status_code == 200 and reply.json()["action"] == "woken"
    result = harness.run(tx_id)
    assert result.status == "success"
    webhooks_deliver_due()

    ref = tokens.marker(tx_id, "pay")
    assert result.data["callback"] == {"name": "pay", "token": ref, "url": ref}
    assert result.data["told"] == tokens.url(ref) and result.data["approved"] is True
    [kid] = Transaction.objects.filter(parent_id=tx_id, pipeline_name="kid")
    assert work.input["callback"] == {"name": "pay", "token": ref, "url": ref}
    assert kid.input["told"] == tokens.url(ref)
    reads = {path: api.get(f"/api/v1/transactions/{tx_id}{path}").content.decode()
             for path in ("", "/steps", "/journal")}
    places = {
        "final data": json.dumps(result.data),
        "step outputs as a child sees them": json.dumps([kid.input, work.input]),
        "step runs": json.dumps([(run.input, run.output, run.note, run.logs, run.error)
                                 for run in result.step_runs + harness.result(work.pk).step_runs]),
        "journal": json.dumps([entry.data for entry in result.journal]),
        "webhook payload bodies": b"".join(request["body"] for request in receiver.requests).decode(),
        "the API's transaction, steps and journal": "".join(reads.values()),
        "logs": caplog.text,
        "the engine's tables, the token column included": everything_stored(),
    }
    assert len(receiver.requests) >= 2
    assert [place for place, text in places.items() if token in text] == []
    assert Callback.objects.get(tx_id=tx_id).token_hash == tokens.digest(token)


@pytest.fixture
def awaiting(api, harness):
    tx_id = start(api, "hooked")
    assert harness.run(tx_id).status == "sleeping"
    return tx_id


def test_the_owner_reads_the_open_callbacks_url_in_waiting_and_another_owner_sees_nothing(api, other_api,
                                                                                        anon, awaiting, harness):
    waiting = api.get(f"/api/v1/transactions/{awaiting}").json()["waiting"]
    assert (waiting["reason"], waiting["callback"]) == ("callback", "default")
    assert waiting["url"] == tokens.url(harness.callback_token(awaiting))
    listed = api.get("/api/v1/transactions?status=sleeping").json()["results"]
    assert [item["waiting"]["url"] for item in listed] == [waiting["url"]]
    assert other_api.get(f"/api/v1/transactions/{awaiting}").status_code == 404
    assert other_api.get("/api/v1/transactions").json()["results"] == []
    assert anon.get(f"/api/v1/transactions/{awaiting}").status_code == 401
    assert anon.post(waiting["url"], {"status": "complete"}, format="json").status_code == 200
    assert harness.run(awaiting).status == "success"
    assert api.get(f"/api/v1/transactions/{awaiting}").json()["waiting"] is None


def test_a_console_viewer_webhooks_and_the_console_get_no_url(api, awaiting, harness):
    viewer = login(make_user("vera", "viewer", [harness.owner]))
    assert viewer.get(f"/api/v1/transactions/{awaiting}").json()["waiting"]["url"] is None
    operator = login(make_user("otto", "operator", [harness.owner]))
    assert operator.get(f"/api/v1/transactions/{awaiting}").json()["waiting"]["url"] is not None
    assert transaction_as_dict(tx=transaction_get(tx_id=awaiting))["waiting"]["url"] is None


def test_waiting_has_no_url_when_it_is_not_a_callback(api, harness):
    tx_id = start(api, "approval")
    harness.settle()
    assert api.get(f"/api/v1/transactions/{tx_id}").json()["waiting"]["url"] is None


def test_a_callback_of_a_finished_transaction_is_refused_as_final(api, anon, harness):
    harness.load({"name": "leaves-it-open", "steps": [{"type": "util/callback"}]})
    tx_id = start(api, "leaves-it-open")
    assert harness.run(tx_id).status == "success"
    token = harness.callback_token(tx_id)
    assert Callback.objects.get(tx_id=tx_id).status == "created"
    response = anon.post(tokens.url(token), {"status": "complete"}, format="json")
    assert response.status_code == 409 and response.json()["code"] == "callback_final"
    assert Callback.objects.get(tx_id=tx_id).status == "created"


def test_a_final_callback_is_refused_and_its_url_is_gone_from_waiting(api, anon, awaiting, harness):
    token = harness.callback_token(awaiting)
    Callback.objects.filter(tx_id=awaiting).update(status="error")
    assert api.get(f"/api/v1/transactions/{awaiting}").json()["waiting"]["url"] is None
    response = anon.post(tokens.url(token), {"status": "complete"}, format="json")
    assert response.status_code == 409 and response.json()["code"] == "callback_final"


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_marker_is_no_credential(anon, awaiting, method):
    response = getattr(anon, method)(tokens.url(tokens.marker(awaiting, "default")), {"status": "complete"},
                                     format="json")
    assert response.status_code == 404


@pytest.fixture
def requires_key(settings):
    settings.DATP = {**getattr(settings, "DATP", {}), "CALLBACK_REQUIRES_KEY": True}


@pytest.mark.parametrize("method", ["get", "post"])
def test_with_callback_requires_key_the_token_alone_is_401_and_another_owners_key_404(
        requires_key, anon, other_api, awaiting, harness, method, caplog):
    caplog.set_level(logging.DEBUG)
    token = harness.callback_token(awaiting)
    url = tokens.url(token)
    alone = getattr(anon, method)(url, {"status": "progress"}, format="json")
    assert alone.status_code == 401 and alone.json()["code"] == "not_authenticated"
    theirs = getattr(other_api, method)(url, {"status": "progress"}, format="json")
    assert theirs.status_code == 404 and theirs.json()["code"] == "not_found"
    assert Callback.objects.get(tx_id=awaiting).status == "created"
    assert "/api/v1/callbacks/[redacted]" in caplog.text and token not in caplog.text


def test_with_callback_requires_key_the_owners_key_and_the_token_complete_it(requires_key, api, awaiting, harness):
    url = tokens.url(harness.callback_token(awaiting))
    assert api.get(url).json()["callback"]["status"] == "created"
    response = api.post(url, {"status": "complete", "data": {"ok": True}}, format="json")
    assert response.status_code == 200 and response.json()["action"] == "woken"
    assert harness.run(awaiting).data["ok"] is True
    system = client_for("test", "ops", system=True)
    assert system.post(url, {"status": "progress"}, format="json").json()["code"] == "callback_final"


def test_without_callback_requires_key_a_wrong_key_is_ignored(anon, awaiting, harness):
    anon.credentials(HTTP_AUTHORIZATION="Bearer not-a-key")
    assert anon.get(tokens.url(harness.callback_token(awaiting))).status_code == 200


@pytest.mark.parametrize("value, expected", [("true", "True"), ("0", "False"), (None, "False")])
def test_callback_requires_key_is_read_from_the_environment_into_the_datp_settings(tmp_path, value, expected):
    env = {**os.environ, "DATP_VAR_DIR": str(tmp_path), "DATP_CALLBACK_REQUIRES_KEY": value or ""}
    code = "from datp_site import settings; print(settings.DATP['CALLBACK_REQUIRES_KEY'])"
    found = subprocess.run([sys.executable, "-c", code], env=env, cwd=Path(__file__).parents[2],
                           capture_output=True, text=True, check=True, timeout=60)
    assert found.stdout.strip() == expected
    assert conf.DEFAULTS["CALLBACK_REQUIRES_KEY"] is False


def test_the_shipped_example_partner_is_completed_as_the_readme_shows(api, anon, harness):
    root = Path(__file__).parents[2]
    harness.load(json.loads((root / "pipelines" / "example-partner.json").read_text()))
    tx_id = start(api, "example-partner", data={})
    harness.settle()
    url = api.get(f"/api/v1/transactions/{tx_id}").json()["waiting"]["url"]
    assert anon.post(url, {"status": "progress", "data": {"percent": 40}}, format="json").json()["action"] == "updated"
    assert anon.post(url, {"status": "complete", "data": {"approved": True}}, format="json").json()["action"] == "woken"
    result = harness.run(tx_id)
    assert (result.status, result.data["approved"], result.data["percent"]) == ("success", True, 40)
    late = anon.post(url, {"status": "progress"}, format="json")
    assert (late.status_code, late.json()["code"]) == (409, "callback_final")


def test_the_development_servers_access_log_names_no_token():
    """`make run` serves with runserver, whose access log (django.server) writes every request's path."""
    logger = logging.getLogger("django.server")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger.addHandler(handler)
    try:
        logger.info('"%s" %s %s', "POST /api/v1/callbacks/s3cr3tT0ken HTTP/1.1", "200", "135")
    finally:
        logger.removeHandler(handler)
    assert stream.getvalue() == '"POST /api/v1/callbacks/[redacted] HTTP/1.1" 200 135\n'
