"""Pipelines for the console's rewind and version-move tests (and the browser's): an order whose charge fails
until a fixed version is published, and an order whose second version drops a step and changes another."""
import copy

from tests.version_pipelines import move_versions

ORDER = {
    "name": "rc-order",
    "steps": [
        {"name": "prepare", "type": "util/set", "config": {"values": {"prepared": True}}},
        {"name": "charge", "type": "util/fail", "config": {"note": "card processor bug"}},
        {"name": "approve", "type": "util/wait-switch", "config": {"switch": "approved"}},
        {"name": "ship", "type": "util/set", "config": {"values": {"shipped": True}}},
    ],
}


def order_fixed():
    """ORDER with its charge fixed: a new version."""
    definition = copy.deepcopy(ORDER)
    definition["steps"][1] = {"name": "charge", "type": "util/set", "config": {"values": {"charged": True}}}
    return definition


MOVE_V1, MOVE_V2 = move_versions("vm-console")


def move_world(world, *, approving=3, owner=None):
    """Both versions of vm-console with v1 in use again; `approving` transactions sleeping at approve, one at nap
    (a step v2 lacks) and one ended, all on v1. Returns (v1, v2, approving ids, napping id, ended id)."""
    [v1] = world.load(MOVE_V1)
    [v2] = world.load(MOVE_V2)
    world.load(MOVE_V1)
    kwargs = {"owner": owner} if owner else {}
    waiting = [world.start("vm-console", {"n": n}, **kwargs) for n in range(approving)]
    for tx_id in waiting:
        world.run(tx_id)
    ended = world.start("vm-console", {"n": 10}, **kwargs)
    world.run(ended)
    world.set_switch(ended, "approved", True)
    world.advance("PT2H")  # it naps an hour, then ships
    napping = world.start("vm-console", {"n": 9}, **kwargs)
    world.run(napping)
    world.set_switch(napping, "approved", True)
    world.settle()
    return v1.pk, v2.pk, waiting, napping, ended
