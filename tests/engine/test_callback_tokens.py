"""Callback tokens as credentials, in the engine: derived again for a re-run step and for the owner,
scrubbed from whatever a step writes, reachable by marker only inside the family that made them."""
import pytest

from engine import tokens
from engine.models import Callback, JournalEntry, Switch
from engine.runtime import faults
from engine.selectors import waiting_as_dict
from engine.services.callbacks import callback_reveal, callback_update
from engine.steps import Step, registry

HANDED = []


class MakesCallback(Step):
    """Create the callback `pay` and note the token it was handed, with the attempt."""

    type_name = "test/makes-callback"

    def invoke(self, ctx):
        HANDED.append((ctx.attempt, ctx.create_callback("pay")["token"]))
        return ctx.succeeded()


class LeaksToken(Step):
    """Put the token it is handed everywhere a step can write, then raise with it."""

    type_name = "test/leaks-token"

    def invoke(self, ctx):
        token = ctx.create_callback("pay", {"copy": "x"})["token"]
        HANDED.append((ctx.attempt, token))
        ctx.log.warning("the token is %s", token)
        ctx.set_switch("seen", token, reason=f"saw {token}")
        ctx.progress({"token": token})
        raise RuntimeError(f"the partner refused {tokens.url(token)}")


@pytest.fixture
def test_steps():
    HANDED.clear()
    for step in (MakesCallback, LeaksToken):
        registry.register(step)
    yield HANDED
    for step in (MakesCallback, LeaksToken):
        registry.unregister(step.type_name)
    faults.clear()


def crash(run):
    raise faults.WorkerCrash()


def test_a_step_run_again_after_its_worker_died_is_handed_the_same_usable_token(harness, test_steps):
    harness.load({"name": "p", "steps": [{"type": "test/makes-callback"}, {"type": "util/await",
                                                                           "config": {"callback": "pay"}}]})
    tx_id = harness.start("p")
    faults.install(faults.AFTER_STEP_BEFORE_CHECKPOINT, crash)
    with pytest.raises(faults.WorkerCrash):
        harness.settle()
    faults.clear()
    harness.advance("PT31S")
    assert harness.result(tx_id).status == "sleeping"
    [(first_attempt, first), (second_attempt, second)] = test_steps
    assert (first_attempt, second_attempt) == (1, 2)
    assert first == second == harness.callback_token(tx_id, "pay")
    assert callback_update(token=second, status="complete")["action"] == "woken"
    assert harness.run(tx_id).status == "success"


def test_whatever_a_step_writes_has_its_token_replaced_by_the_marker(harness, test_steps, caplog):
    harness.load({"name": "p", "steps": [{"name": "leak", "type": "test/leaks-token"}]})
    result = harness.run(harness.start("p"))
    [(_, token)] = test_steps
    [run] = result.step_runs
    ref = tokens.marker(result.tx.pk, "pay")
    assert result.status == "internal_error"
    assert run.note == f"RuntimeError: the partner refused {tokens.url(ref)}" and ref in run.error
    assert run.logs[0]["message"] == f"the token is {ref}"
    assert Switch.objects.get(tx_id=result.tx.pk, name="seen").value == ref
    written = [run.note, run.error, run.logs, result.tx.note, result.tx.progress, caplog.text,
               list(JournalEntry.objects.filter(tx_id=result.tx.pk).values_list("data", flat=True))]
    assert token not in str(written)


def test_a_child_reports_to_its_parents_callback_by_marker_but_an_outsider_cannot(harness):
    harness.load(
        {"name": "parent", "steps": [
            {"type": "util/callback", "config": {"name": "pay"}},
            {"type": "util/child-pipeline", "config": {"pipeline": "reporter"}},
            {"type": "util/await", "config": {"callback": "pay"}},
        ]},
        {"name": "reporter", "steps": [{"type": "util/callback-update", "config": {"status": "complete"}}]},
    )
    parent_id = harness.start("parent")
    assert harness.run(parent_id).status == "success"
    harness.load({"name": "victim", "steps": [{"type": "util/callback", "config": {"name": "pay"}},
                                             {"type": "util/await", "config": {"callback": "pay"}}]})
    victim_id = harness.start("victim")
    harness.settle()
    ref = tokens.marker(victim_id, "pay")
    outsider = harness.run(harness.start("reporter", {"callback": {"token": ref}}))
    assert (outsider.status, outsider.note) == ("failed", "Unknown callback token")
    assert callback_reveal(tx_id=outsider.tx.pk, ref=ref) is None
    assert callback_reveal(tx_id=victim_id, ref=ref)["token"] == harness.callback_token(victim_id, "pay")
    assert harness.result(victim_id).status == "sleeping"


def awaiting_callback(harness):
    harness.load({"name": "p", "steps": [{"type": "util/callback"}, {"type": "util/await"}]})
    tx_id = harness.start("p")
    harness.settle()
    return tx_id


def test_a_token_hashed_by_the_migration_still_works_but_cannot_be_shown_again(harness):
    tx_id = awaiting_callback(harness)
    Callback.objects.filter(tx_id=tx_id).update(token_hash=tokens.digest("an-old-plain-token"), token_salt="")
    assert harness.callback_token(tx_id) is None
    assert waiting_as_dict(sleeper=harness.result(tx_id).sleeper, callback_url=True)["url"] is None
    assert callback_update(token="an-old-plain-token", status="complete")["action"] == "woken"
    assert harness.run(tx_id).status == "success"


def test_after_a_secret_key_rotation_the_token_is_derived_under_its_fallback(harness, settings):
    settings.SECRET_KEY = "the-old-secret-key-" + "x" * 40
    tx_id = awaiting_callback(harness)
    token = harness.callback_token(tx_id)
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "the-new-secret-key-" + "y" * 40, []
    assert harness.callback_token(tx_id) is None
    settings.SECRET_KEY_FALLBACKS = ["the-old-secret-key-" + "x" * 40]
    assert harness.callback_token(tx_id) == token
    settings.SECRET_KEY_FALLBACKS = []
    assert callback_update(token=token, status="complete")["action"] == "woken"


def test_a_callback_url_is_the_api_path_of_its_token():
    token = tokens.derive(tokens.new_salt(), tx_id="tx-1", name="default")
    assert tokens.url(token) == f"/api/v1/callbacks/{token}"
