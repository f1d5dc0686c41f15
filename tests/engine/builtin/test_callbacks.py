"""Callbacks in pipelines: util/callback, util/callback-update and util/await."""
import re
from datetime import timedelta

import pytest

from engine import tokens
from engine.errors import CallbackFinal
from engine.models import Callback, CallbackUpdate, JournalEntry, Sleeper
from engine.services import waker
from engine.services.callbacks import callback_by_name

URL_SAFE = re.compile(r"^[A-Za-z0-9_-]+$")


def await_pipeline(harness, callback_config=None, await_config=None, on=None):
    wait = {"name": "await", "type": "util/await", "config": await_config or {}}
    if on:
        wait["on"] = on
    harness.load({"name": "p", "steps": [
        {"name": "cb", "type": "util/callback", "config": callback_config or {}},
        wait,
        {"name": "after", "type": "util/echo"},
    ]})


def start_awaiting(harness, data=None, **kwargs):
    await_pipeline(harness, **kwargs)
    tx_id = harness.start("p", data or {})
    harness.settle()
    assert harness.result(tx_id).status == "sleeping"
    return tx_id


# util/callback -------------------------------------------------------------------------------


def test_callback_step_names_the_callback_and_puts_its_marker_where_the_token_was(harness):
    harness.load({"name": "p", "steps": [{"type": "util/callback", "config": {"name": "pay"}}]})
    result = harness.run(harness.start("p", {"a": 1}))
    assert result.status == "success"
    ref = tokens.marker(result.tx.pk, "pay")
    assert result.data == {"a": 1, "callback": {"name": "pay", "token": ref, "url": ref}}
    token = harness.callback_token(result.tx.pk, "pay")
    row = Callback.objects.get(tx_id=result.tx.pk, name="pay")
    assert row.token_hash == tokens.digest(token) and token not in (row.token_hash, row.token_salt)


def test_callback_tokens_are_url_safe_with_at_least_128_random_bits(harness):
    harness.load({"name": "p", "steps": [{"type": "util/callback"}]})
    tokens_made = {harness.callback_token(harness.run(harness.start("p")).tx.pk) for _ in range(5)}
    assert len(tokens_made) == 5
    for token in tokens_made:
        assert URL_SAFE.match(token)
        assert len(token) * 6 >= 128


def test_callback_step_defaults_its_name_and_keeps_callback_data_and_timeout(harness):
    started = harness.now()
    harness.load({"name": "p", "steps": [
        {"type": "util/callback", "config": {"callback_data": {"order": 7}, "timeout": "PT1H"}},
    ]})
    tx_id = harness.run(harness.start("p")).tx.pk
    callback = callback_by_name(tx_id=tx_id, name="default")
    assert callback["status"] == "created"
    assert callback["callback_data"] == {"order": 7}
    assert callback["timeout_at"] == started + timedelta(hours=1)


# util/callback-update ------------------------------------------------------------------------


def test_callback_update_reports_status_and_data_to_the_token_in_the_input(harness):
    harness.load({"name": "p", "steps": [
        {"name": "cb", "type": "util/callback"},
        {"name": "report", "type": "util/callback-update", "config": {"status": "progress", "data": {"pct": 40}}},
    ]})
    result = harness.run(harness.start("p", {"a": 1}))
    assert result.status == "success"
    assert result.data == {"a": 1, "callback": result.data["callback"]}
    callback = callback_by_name(tx_id=result.tx.pk, name="default")
    assert (callback["status"], callback["data"]) == ("progress", {"pct": 40})
    update = CallbackUpdate.objects.get(callback__tx_id=result.tx.pk)
    assert (update.status, update.actor) == ("progress", "step:report")


def test_callback_update_reads_the_token_at_token_field(harness):
    harness.load(
        {"name": "owner", "steps": [{"type": "util/callback"},
                                    {"type": "util/wait-switch", "config": {"switch": "x"}}]},
        {"name": "reporter", "steps": [
            {"type": "util/callback-update", "config": {"status": "start", "token_field": "job.cb"}}]},
    )
    owner_id = harness.start("owner")
    harness.settle()
    reporter = harness.run(harness.start("reporter", {"job": {"cb": harness.callback_token(owner_id)}}))
    assert reporter.status == "success"
    assert callback_by_name(tx_id=owner_id, name="default")["status"] == "start"


@pytest.mark.parametrize("data", [{"callback": {"token": "no-such-token"}}, {}])
def test_callback_update_with_an_unknown_or_missing_token_fails(harness, data):
    harness.load({"name": "p", "steps": [{"type": "util/callback-update", "config": {"status": "complete"}}]})
    result = harness.run(harness.start("p", data))
    assert result.status == "failed"
    assert not CallbackUpdate.objects.exists()


def test_callback_update_on_a_final_callback_fails(harness):
    harness.load({"name": "p", "steps": [
        {"type": "util/callback"},
        {"type": "util/callback-update", "config": {"status": "complete"}},
        {"name": "late", "type": "util/callback-update", "config": {"status": "progress"}},
    ]})
    result = harness.run(harness.start("p"))
    assert result.status == "failed"
    assert result.steps[-1] == ("late", "failed")
    assert callback_by_name(tx_id=result.tx.pk, name="default")["status"] == "complete"


# util/await ----------------------------------------------------------------------------------


@pytest.mark.parametrize("status, tx_status", [("complete", "success"), ("error", "failed"),
                                               ("cancel", "cancelled")])
def test_await_outcome_follows_the_final_status(harness, status, tx_status):
    tx_id = start_awaiting(harness)
    assert harness.report_callback(tx_id, status)["action"] == "woken"
    harness.settle()
    result = harness.result(tx_id)
    assert result.status == tx_status
    assert ("await", tx_status) in result.steps


def test_await_wakes_at_once_on_the_final_update(harness):
    tx_id = start_awaiting(harness)
    before = harness.now()
    harness.report_callback(tx_id, "complete")
    assert harness.result(tx_id).status == "queued"
    harness.settle()
    assert harness.result(tx_id).status == "success"
    assert harness.now() == before


def test_await_output_merges_callback_data_then_the_saved_data_and_updates_deep_merge(harness):
    tx_id = start_awaiting(harness, data={"a": 1, "ctx": {"from": "input"}},
                           callback_config={"callback_data": {"ctx": {"k": 1, "from": "callback_data"}}})
    harness.report_callback(tx_id, "progress", {"ctx": {"m": 2}, "pct": 10})
    harness.settle()
    assert harness.result(tx_id).status == "sleeping"
    harness.report_callback(tx_id, "complete", {"ctx": {"n": 3}, "pct": 100})
    result = harness.run(tx_id)
    assert result.status == "success"
    output = dict(result.data)
    assert output.pop("callback")["name"] == "default"
    assert output == {"a": 1, "pct": 100, "ctx": {"from": "callback_data", "k": 1, "m": 2, "n": 3}}


def test_a_progress_update_does_not_wake_the_await(harness):
    tx_id = start_awaiting(harness)
    assert harness.report_callback(tx_id, "progress", {"p": 1})["action"] == "updated"
    assert harness.result(tx_id).status == "sleeping"


def test_a_final_callback_accepts_no_more_updates(harness):
    tx_id = start_awaiting(harness)
    harness.report_callback(tx_id, "complete", {"x": 1})
    with pytest.raises(CallbackFinal) as caught:
        harness.report_callback(tx_id, "progress", {"x": 2})
    assert caught.value.code == "callback_final"
    assert callback_by_name(tx_id=tx_id, name="default")["data"] == {"x": 1}


def test_await_on_an_unknown_callback_fails(harness):
    harness.load({"name": "p", "steps": [{"type": "util/callback"}, {"type": "util/await",
                                                                       "config": {"callback": "other"}}]})
    result = harness.run(harness.start("p"))
    assert result.status == "failed"
    assert result.note == "Unknown callback"


def test_await_timeout_ends_timeout_and_the_callback_becomes_timeout(harness):
    started = harness.now()
    tx_id = start_awaiting(harness, await_config={"timeout": "PT30M"})
    assert harness.result(tx_id).sleeper.timeout_at == started + timedelta(minutes=30)
    result = harness.run(tx_id)
    assert result.status == "timeout"
    assert result.steps[-1] == ("await", "timeout")
    assert harness.now() == started + timedelta(minutes=30)
    assert callback_by_name(tx_id=tx_id, name="default")["status"] == "timeout"


def test_await_uses_the_callbacks_own_timeout_by_default_and_is_routable(harness):
    started = harness.now()
    tx_id = start_awaiting(harness, callback_config={"timeout": "PT2H"}, on={"timeout": "after"})
    result = harness.run(tx_id)
    assert result.status == "success"
    assert result.steps[-2:] == [("await", "timeout"), ("after", "success")]
    assert harness.now() == started + timedelta(hours=2)
    assert callback_by_name(tx_id=tx_id, name="default")["status"] == "timeout"


@pytest.mark.parametrize("config, seconds", [
    ({}, 10), ({"poll_interval": "PT1S"}, 2), ({"poll_interval": "PT1H"}, 300),
    ({"poll_interval": "PT30S"}, 30), ({"callbackPollInterval": "PT45S"}, 45),
    ({"callbackPollInterval": "PT0S"}, 2),
])
def test_await_poll_interval_defaults_to_ten_seconds_and_is_clamped(harness, config, seconds):
    tx_id = start_awaiting(harness, await_config=config)
    sleeper = harness.result(tx_id).sleeper
    assert (sleeper.reason, sleeper.poll_seconds) == ("callback", seconds)


def test_a_long_await_costs_no_step_runs_and_no_journal_rows(harness):
    tx_id = start_awaiting(harness)
    runs, entries = len(harness.result(tx_id).step_runs), JournalEntry.objects.filter(tx_id=tx_id).count()
    harness.advance("P3D")
    assert waker.awaits_recheck(now=harness.now()) == 0
    assert len(harness.result(tx_id).step_runs) == runs
    assert JournalEntry.objects.filter(tx_id=tx_id).count() == entries


def test_the_await_recheck_wakes_a_sleeper_whose_callback_became_final_unnoticed(harness):
    tx_id = start_awaiting(harness)
    Callback.objects.filter(tx_id=tx_id).update(status="complete", data={"late": True})
    assert harness.result(tx_id).status == "sleeping"
    assert waker.awaits_recheck(now=harness.now()) == 1
    assert not Sleeper.objects.filter(tx_id=tx_id).exists()
    harness.settle()
    result = harness.result(tx_id)
    assert result.status == "success"
    assert result.data["late"] is True
