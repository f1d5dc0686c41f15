"""Times a step or a stored pipeline hands the engine that no `datetime` can hold: the step ends cleanly
(internal_error, with the field named), the worker goes on, and nothing is left half-written."""
from datetime import UTC, datetime

import pytest

from engine.models import Sleeper
from engine.steps import Step, register

BAD_SECONDS = [1e20, -1, "nan", "inf", True, "P1000000Y", "P1.5Y", "soon"]
NAIVE = "a naive datetime"


@register
class RetryLater(Step):
    """ctx.retry_later with config `seconds` ("nan" and "inf" as floats) or `until` (NAIVE: a naive datetime)."""

    type_name = "test/bad-times-retry-later"

    def invoke(self, ctx):
        if "until" in ctx.config:
            until = ctx.config["until"]
            return ctx.retry_later(until=datetime(2026, 1, 1) if until == NAIVE else until)
        seconds = ctx.config["seconds"]
        return ctx.retry_later(seconds=float(seconds) if seconds in ("nan", "inf") else seconds)


@register
class Raise(Step):
    """Always raise (so its retry policy applies)."""

    type_name = "test/bad-times-raise"

    def invoke(self, ctx):
        raise RuntimeError("down")


@pytest.mark.parametrize("seconds", BAD_SECONDS, ids=repr)
def test_retry_later_with_a_bad_duration_ends_the_step_as_internal_error_naming_the_field(harness, seconds):
    harness.load({"name": "later", "steps": [{"type": "test/bad-times-retry-later", "config": {"seconds": seconds}}]},
                 {"name": "echo", "steps": [{"type": "util/echo"}]})
    tx_id = harness.start("later")
    result = harness.run(tx_id)
    assert result.status == "internal_error"
    assert "seconds" in result.note
    assert not Sleeper.objects.filter(tx_id=tx_id).exists()
    assert harness.run(harness.start("echo")).status == "success"


@pytest.mark.parametrize("until", [NAIVE, "9999-12-31T23:00:00-05:00"])
def test_retry_later_until_a_time_no_datetime_holds_ends_the_step_as_internal_error(harness, until):
    harness.load({"name": "later", "steps": [{"type": "test/bad-times-retry-later", "config": {"until": until}}]})
    result = harness.run(harness.start("later"))
    assert result.status == "internal_error" and "until" in result.note


def test_a_retry_backoff_that_no_longer_fits_ends_the_transaction_instead_of_crashing_the_worker(db):
    from engine.testing import Harness

    with Harness(start_at=datetime(2026, 1, 1, tzinfo=UTC)) as harness:
        harness.load({"name": "flaky", "steps": [
            {"type": "test/bad-times-raise",
             "retry": {"max_attempts": 5, "backoff": "P7900Y", "max_backoff": "P7900Y"}},
        ]}, {"name": "echo", "steps": [{"type": "util/echo"}]})
        harness.clock.move_to(datetime(2500, 1, 1, tzinfo=UTC))
        tx_id = harness.start("flaky")
        assert harness.run(tx_id).status == "internal_error"
        assert not Sleeper.objects.filter(tx_id=tx_id).exists()
        assert harness.run(harness.start("echo")).status == "success"


def test_a_pipeline_deadline_that_no_longer_fits_refuses_the_start_on_deadline(db):
    from engine.errors import InvalidRequest
    from engine.models import Transaction
    from engine.testing import Harness

    with Harness(start_at=datetime(2026, 1, 1, tzinfo=UTC)) as harness:
        harness.load({"name": "slow", "deadline": "P7900Y", "steps": [{"type": "util/echo"}]})
        harness.clock.move_to(datetime(2500, 1, 1, tzinfo=UTC))
        with pytest.raises(InvalidRequest) as caught:
            harness.start("slow")
        assert list(caught.value.extra["fields"]) == ["deadline"]
        assert not Transaction.objects.exists()
