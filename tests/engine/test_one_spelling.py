"""One public spelling per outcome (issue 17): `timeout` for the builder, the route and the status;
`ctx.timed_out` and `TxResult.output` stay as deprecated aliases that warn once per process."""
import warnings

import pytest

from engine import deprecation
from engine.steps import Step, registry
from engine.steps.builtin.callbacks import FINAL_OUTCOMES
from engine.steps.builtin.children import CHILD_OUTCOMES

pytestmark = pytest.mark.django_db


class OldSpelling(Step):
    """End with the deprecated builder."""

    type_name = "test/old-spelling"

    def invoke(self, ctx):
        return ctx.timed_out("late", {"old": True})


class NewSpelling(Step):
    type_name = "test/new-spelling"

    def invoke(self, ctx):
        return ctx.timeout("late", {"new": True})


@pytest.fixture(autouse=True)
def fresh():
    deprecation.reset()
    for step in (OldSpelling, NewSpelling):
        registry.register(step)
    yield
    for step in (OldSpelling, NewSpelling):
        registry.unregister(step.type_name)
    deprecation.reset()


def routed(step_type):
    return {"name": step_type.split("/")[1], "steps": [
        {"name": "late", "type": step_type, "on": {"timeout": "handle"}},
        {"name": "handle", "type": "util/set", "config": {"values": {"handled": True}}},
    ]}


def test_ctx_timeout_ends_the_step_timeout_and_the_timeout_route_catches_it(harness):
    harness.load(routed("test/new-spelling"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = harness.run(harness.start("new-spelling", {}))
    assert result.steps == [("late", "timeout"), ("handle", "success")]
    assert result.data == {"new": True, "handled": True}


def test_ctx_timed_out_still_works_and_warns_once_per_process(harness):
    harness.load(routed("test/old-spelling"))
    with pytest.warns(DeprecationWarning, match=r"ctx\.timed_out\(\) is deprecated; use ctx\.timeout\(\)"):
        first = harness.run(harness.start("old-spelling", {}))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        second = harness.run(harness.start("old-spelling", {}))
    for result in (first, second):
        assert result.steps == [("late", "timeout"), ("handle", "success")]


def test_txresult_data_is_the_rest_bodys_data_and_output_is_its_deprecated_alias(harness):
    harness.load({"name": "set", "steps": [{"type": "util/set", "config": {"values": {"x": 1}}}]})
    result = harness.run(harness.start("set", {}))
    assert result.data == {"x": 1}
    with pytest.warns(DeprecationWarning, match=r"TxResult\.output is deprecated; use TxResult\.data"):
        assert result.output == {"x": 1}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert result.output == {"x": 1}


def test_built_ins_map_callback_and_child_ends_to_builders_spelled_like_the_status(harness):
    assert FINAL_OUTCOMES["timeout"] == CHILD_OUTCOMES["timeout"] == "timeout"
    harness.load({"name": "await-late", "steps": [
        {"name": "make", "type": "util/callback", "config": {"name": "pay"}},
        {"name": "await", "type": "util/await", "config": {"callback": "pay", "timeout": "PT1M"}},
    ]}, {"name": "switch-late", "steps": [
        {"name": "wait", "type": "util/wait-switch", "config": {"switch": "go", "timeout": "PT1M"}},
    ]})
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        ends = [harness.run(harness.start(name, {})).status for name in ("await-late", "switch-late")]
    assert ends == ["timeout", "timeout"]


class ReadsChild(Step):
    """Start a child, wait for it, and report what get_child says of it, under the new and the old key."""

    type_name = "test/reads-child"

    def invoke(self, ctx):
        child = ctx.get_child(ctx.start_child("set", {}))
        if child["status"] != "success":
            return ctx.wait(child=child["tx_id"])
        return ctx.succeeded(output={"keys": sorted(child), "data": child["data"], "old": child["output"],
                                     "old_get": child.get("output")})


def test_get_child_says_data_like_the_rest_body_and_output_still_reads_it_with_one_warning(harness):
    registry.register(ReadsChild)
    try:
        harness.load({"name": "set", "transaction_type": False,
                      "steps": [{"type": "util/set", "config": {"values": {"x": 1}}}]},
                     {"name": "reads", "steps": [{"type": "test/reads-child"}]})
        with pytest.warns(DeprecationWarning, match=r"ctx\.get_child\(\)\['output'\] is deprecated") as caught:
            result = harness.run(harness.start("reads", {}))
    finally:
        registry.unregister(ReadsChild.type_name)
    assert result.data == {"keys": ["data", "note", "status", "transaction_type", "tx_id"],
                           "data": {"x": 1}, "old": {"x": 1}, "old_get": {"x": 1}}
    assert len([w for w in caught if issubclass(w.category, DeprecationWarning)]) == 1
