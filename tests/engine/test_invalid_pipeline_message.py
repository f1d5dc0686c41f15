"""An invalid pipeline's message names its problems, so a traceback in a step author's test shows them."""
import pytest

from engine.errors import InvalidPipeline
from engine.services.pipelines import pipeline_publish


def test_the_message_lists_each_problem(db):
    with pytest.raises(InvalidPipeline) as raised:
        pipeline_publish(definition={"name": "bad", "steps": [{"name": "a", "type": "util/no-such-type"}]})
    assert raised.value.errors and all(error in raised.value.message for error in raised.value.errors)
    assert raised.value.message.startswith(f"The pipeline definition has {len(raised.value.errors)} problem")
    assert str(raised.value) == raised.value.message


def test_a_long_list_is_cut_and_says_where_the_rest_is():
    errors = [f"steps[{n}].type: unknown" for n in range(8)]
    message = InvalidPipeline(errors).message
    assert message == ("The pipeline definition has 8 problems: " + "; ".join(errors[:5])
                       + "; and 3 more (see .errors)")
    assert InvalidPipeline(["(root): a pipeline definition must be a JSON object"]).message == (
        "The pipeline definition has 1 problem: (root): a pipeline definition must be a JSON object")
