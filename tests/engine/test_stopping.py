"""A worker whose node is stopping finishes its step and hands the rest back to the queue."""
from engine.runtime import executor


def test_a_stopping_worker_parks_the_next_step_in_the_queue(harness):
    harness.load({"name": "two", "steps": [{"name": "a", "type": "util/set", "config": {"values": {"a": 1}}},
                                            {"name": "b", "type": "util/echo"}]})
    tx_id = harness.start("two", {"x": 1})
    answers = iter([False, True])  # not stopping when claiming; stopping at the first checkpoint
    count, emptied = executor.drain(node_group="master", stop=lambda: next(answers, True))
    result = harness.result(tx_id)
    assert (count, result.status, result.steps) == (1, "queued", [("a", "success")])
    assert result.journal[-1].data["why"] == "node stopping"
    final = harness.run(tx_id)
    assert final.status == "success"
    assert final.steps == [("a", "success"), ("b", "success")]
    assert final.step_runs[1].input == {"x": 1, "a": 1}


def test_a_stopping_worker_turns_a_short_sleep_into_a_timer(harness):
    harness.load({"name": "nap", "steps": [{"name": "nap", "type": "util/sleep", "config": {"duration": "PT1S"}}]})
    tx_id = harness.start("nap", {})
    answers = iter([False, True])
    executor.drain(node_group="master", stop=lambda: next(answers, True))
    result = harness.result(tx_id)
    assert result.status == "sleeping"
    assert result.sleeper.reason == "timer"
    assert harness.run(tx_id).status == "success"
