"""The Transaction page says why a step was not retried: in its step run's note and in the journal (issue 18)."""
import re

from engine.steps import PermanentError, Step, register


@register
class OutOfStock(Step):
    """Raise PermanentError, or LookupError with config `lookup`."""

    type_name = "test/console-out-of-stock"

    def invoke(self, ctx):
        if ctx.config.get("lookup"):
            raise LookupError("no such shelf")
        raise PermanentError("item 7 is out of stock")


def _section(html, name):
    return re.search(rf'<section class="card" id="{name}">(.*?)</section>', html, re.DOTALL).group(1)


def _page(world, operator, step):
    world.load({"name": "shop", "steps": [{"name": "reserve", "type": "test/console-out-of-stock", **step}]})
    tx_id = world.start("shop", {})
    world.run(tx_id)
    response = operator.get(f"/mondat/transactions/{tx_id}/")
    assert response.status_code == 200
    return response.content.decode()


def test_a_permanent_error_shows_its_reason_in_the_step_runs_and_the_journal(world, operator):
    html = _page(world, operator, {"retry": {"max_attempts": 3}})
    steps = _section(html, "steps")
    assert "PermanentError: item 7 is out of stock; not retried: PermanentError" in steps
    assert "s-failed" in steps
    journal = _section(html, "journal")
    assert "not_retried" in journal and "PermanentError" in journal


def test_exhausted_attempts_show_their_count(world, operator):
    html = _page(world, operator, {"config": {"lookup": True}, "retry": {"max_attempts": 2, "backoff": "PT1S"}})
    assert "LookupError: no such shelf; not retried: attempts exhausted (2 of 2)" in _section(html, "steps")
    assert "attempts exhausted (2 of 2)" in _section(html, "journal")
