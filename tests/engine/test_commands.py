"""The operator commands (spec/operations.md, spec/api.md "Authentication"): thin wrappers over the
services, recorded with a `cli:` actor, whose typed errors become clean command errors."""
import hashlib
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from engine.management.commands import datp_node
from engine.management.commands.datp_run import Command as DatpRun
from engine.models import ApiKey, JournalEntry, Owner, Sleeper, Switch
from engine.services.owners import api_key_authenticate
from engine.steps import Step, register


@register
class Nap(Step):
    """Sleep an hour on the first run; succeed when run again (by the timer or a wake-up)."""

    type_name = "test/cmd-nap"

    def invoke(self, ctx):
        if ctx.retry_count == 0:
            return ctx.retry_later(seconds=3600)
        return ctx.succeeded()


WAIT_GO = {"name": "cmd-wait", "steps": [{"name": "wait", "type": "util/wait-switch", "config": {"switch": "go"}}]}
NAP = {"name": "cmd-nap", "steps": [{"name": "nap", "type": "test/cmd-nap"}]}
QUICK = {"name": "cmd-quick", "steps": [{"name": "echo", "type": "util/echo"}]}


def run_command(name, *args, **options):
    out = StringIO()
    call_command(name, *args, stdout=out, **options)
    return out.getvalue()


def waiting(harness, pipeline=WAIT_GO):
    harness.load(pipeline)
    tx_id = harness.start(pipeline["name"], {"order": 7})
    harness.settle()
    assert harness.result(tx_id).status == "sleeping"
    return tx_id


def finished(harness):
    harness.load(QUICK)
    tx_id = harness.start("cmd-quick", {})
    assert harness.run(tx_id).status == "success"
    return tx_id


# datp_create_api_key -------------------------------------------------------------------------


@pytest.mark.django_db
def test_create_api_key_prints_only_the_key_on_one_line_and_it_authenticates():
    out = run_command("datp_create_api_key", "--owner", "acme", "--name", "billing")
    assert out.endswith("\n") and out.count("\n") == 1
    raw = out.strip()
    assert raw and " " not in raw
    key = api_key_authenticate(raw=raw)
    assert key is not None
    assert key.owner_id == "acme" and key.name == "billing" and key.is_system is False
    assert api_key_authenticate(raw=raw + "x") is None


@pytest.mark.django_db
def test_an_api_key_is_stored_only_as_its_sha256():
    raw = run_command("datp_create_api_key", "--owner", "acme", "--name", "billing").strip()
    row = ApiKey.objects.values().get()
    assert row["key_hash"] == hashlib.sha256(raw.encode()).hexdigest()
    for value in row.values():
        assert raw not in str(value)


@pytest.mark.django_db
def test_the_system_flag_makes_a_system_key():
    raw = run_command("datp_create_api_key", "--owner", "ops", "--name", "deploy", "--system").strip()
    assert api_key_authenticate(raw=raw).is_system is True


@pytest.mark.django_db
def test_creating_a_key_creates_the_owner_with_a_webhook_secret_and_reuses_it_afterwards():
    assert not Owner.objects.filter(pk="newco").exists()
    first = run_command("datp_create_api_key", "--owner", "newco", "--name", "a").strip()
    owner = Owner.objects.get(pk="newco")
    assert len(owner.webhook_secret) == 64
    second = run_command("datp_create_api_key", "--owner", "newco", "--name", "b").strip()
    assert first != second
    assert Owner.objects.filter(pk="newco").count() == 1
    assert Owner.objects.get(pk="newco").webhook_secret == owner.webhook_secret
    assert ApiKey.objects.filter(owner_id="newco").count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize("owner", ["", "bad name", "-dash", "x" * 65])
def test_a_bad_owner_name_is_a_command_error_and_creates_nothing(owner):
    with pytest.raises(CommandError, match="invalid_request"):
        run_command("datp_create_api_key", f"--owner={owner}", "--name", "k")
    assert not ApiKey.objects.exists()
    assert not Owner.objects.exists()


# datp_webhook_secret -------------------------------------------------------------------------


def test_webhook_secret_prints_the_owner_secret(harness):
    out = run_command("datp_webhook_secret", "--owner", "test")
    assert out == Owner.objects.get(pk="test").webhook_secret + "\n"


def test_rotating_the_webhook_secret_changes_it_and_prints_the_new_one(harness):
    before = Owner.objects.get(pk="test").webhook_secret
    out = run_command("datp_webhook_secret", "--owner", "test", "--rotate")
    after = Owner.objects.get(pk="test").webhook_secret
    assert after != before
    assert out.strip() == after and len(after) == 64
    assert run_command("datp_webhook_secret", "--owner", "test").strip() == after


@pytest.mark.django_db
@pytest.mark.parametrize("rotate", [[], ["--rotate"]])
def test_the_webhook_secret_of_an_unknown_owner_is_a_command_error(rotate):
    with pytest.raises(CommandError, match="nobody"):
        run_command("datp_webhook_secret", "--owner", "nobody", *rotate)
    assert not Owner.objects.exists()


# datp_set_switch -----------------------------------------------------------------------------


def test_set_switch_wakes_the_waiting_step_and_records_a_cli_actor_and_the_reason(harness):
    tx_id = waiting(harness)
    out = run_command("datp_set_switch", tx_id, "go", "true", "--reason", "approved by ops")
    assert "go" in out and "woken" in out
    assert Switch.objects.get(tx_id=tx_id, name="go").value is True
    entry = JournalEntry.objects.get(tx_id=tx_id, kind="switch")
    assert entry.actor.startswith("cli:")
    assert entry.data["reason"] == "approved by ops" and entry.data["channel"] == "cli"
    assert entry.data["value"] is True
    assert harness.run(tx_id).status == "success"


@pytest.mark.parametrize(("text", "value"), [
    ("3", 3), ("2.5", 2.5), ('"yes"', "yes"), ("false", False), ("null", None), ("hello", "hello"),
    ("not json{", "not json{"),
])
def test_a_switch_value_is_parsed_as_json_or_else_kept_as_text(harness, text, value):
    harness.load(WAIT_GO)
    tx_id = harness.start("cmd-wait", {})
    harness.set_switch(tx_id, "level", "initial")
    run_command("datp_set_switch", tx_id, "level", text)
    stored = Switch.objects.get(tx_id=tx_id, name="level").value
    assert stored == value and type(stored) is type(value)


def test_setting_a_switch_of_a_finished_transaction_is_a_command_error_naming_the_code(harness):
    tx_id = finished(harness)
    with pytest.raises(CommandError, match="transaction_finished"):
        run_command("datp_set_switch", tx_id, "go", "true")
    assert not Switch.objects.filter(tx_id=tx_id).exists()


def test_an_invalid_switch_value_is_a_command_error_naming_the_code(harness):
    tx_id = waiting(harness)
    with pytest.raises(CommandError, match="invalid_request"):
        run_command("datp_set_switch", tx_id, "go", '{"a": 1}')
    assert harness.result(tx_id).status == "sleeping"


@pytest.mark.django_db
@pytest.mark.parametrize("command", [["datp_set_switch", "tx-missing", "go", "1"], ["datp_wake", "tx-missing"],
                                     ["datp_cancel", "tx-missing"]])
def test_an_unknown_transaction_is_a_command_error_naming_not_found(command):
    with pytest.raises(CommandError, match="not_found"):
        run_command(*command)


# datp_wake -----------------------------------------------------------------------------------


def test_wake_queues_a_sleeping_transaction_now_with_a_cli_actor_and_the_reason(harness):
    tx_id = waiting(harness, NAP)
    out = run_command("datp_wake", tx_id, "--reason", "backend is back")
    assert out.strip() == f"{tx_id}: queued"
    assert not Sleeper.objects.filter(tx_id=tx_id).exists()
    entry = JournalEntry.objects.get(tx_id=tx_id, kind="woken")
    assert entry.actor.startswith("cli:")
    assert "backend is back" in entry.data["why"]
    harness.settle()
    assert harness.result(tx_id).status == "success"


def test_waking_a_transaction_that_is_not_sleeping_is_a_command_error_naming_the_code(harness):
    harness.load(QUICK)
    tx_id = harness.start("cmd-quick", {})
    with pytest.raises(CommandError, match="not_sleeping"):
        run_command("datp_wake", tx_id)
    assert harness.result(tx_id).status == "queued"


# datp_cancel ---------------------------------------------------------------------------------


def test_cancel_ends_a_sleeping_transaction_with_a_cli_actor_and_the_reason(harness):
    tx_id = waiting(harness)
    out = run_command("datp_cancel", tx_id, "--reason", "customer withdrew")
    assert out.strip() == f"{tx_id}: cancelled"
    result = harness.result(tx_id)
    assert result.status == "cancelled"
    assert "customer withdrew" in result.note
    entry = [e for e in result.journal if e.data.get("to") == "cancelled"][-1]
    assert entry.actor.startswith("cli:")
    assert entry.data["reason"] == "customer withdrew"
    assert result.sleeper is None


def test_cancelling_a_finished_transaction_is_a_command_error_naming_the_code(harness):
    tx_id = finished(harness)
    with pytest.raises(CommandError, match="transaction_finished"):
        run_command("datp_cancel", tx_id)
    assert harness.result(tx_id).status == "success"


def test_datp_run_explains_each_of_its_options():
    help_text = DatpRun().create_parser("manage.py", "datp_run").format_help().split("options:", 1)[1]
    for option, words in {"--address": "host:port", "--workers": "workers", "--pipelines": "pipeline definitions"}.items():
        line = help_text.split(option, 1)[1].split("--", 1)[0]
        assert words in " ".join(line.split()), option


def test_datp_node_says_which_group_it_serves_before_it_runs(monkeypatch):
    started = []

    class FakeNode:
        def __init__(self, **kwargs):
            started.append(kwargs)

        def run(self):
            return 0

    monkeypatch.setattr(datp_node, "Node", FakeNode)
    out = StringIO()
    call_command("datp_node", "--group", "billing", "--workers", "3", stdout=out)
    assert out.getvalue().startswith("DATP node for node group 'billing' with 3 workers;")
    assert started == [{"group": "billing", "workers": 3, "grace_seconds": None, "metrics_port": None}]
