"""The two versions of an order pipeline the version-move tests share (engine, API, console, browser): v2 drops
the step `nap`, changes the config of the others, and gives `approve` a timeout routed to `ship`."""


def move_versions(name):
    """(v1, v2) definitions of the pipeline `name`."""
    v1 = {
        "name": name,
        "steps": [
            {"name": "prepare", "type": "util/set", "config": {"values": {"v": 1}}},
            {"name": "approve", "type": "util/wait-switch", "config": {"switch": "approved"}},
            {"name": "nap", "type": "util/sleep", "config": {"duration": "PT1H"}},
            {"name": "ship", "type": "util/set", "config": {"values": {"shipped": 1}}},
        ],
    }
    v2 = {
        "name": name,
        "steps": [
            {"name": "prepare", "type": "util/set", "config": {"values": {"v": 2}}},
            {"name": "approve", "type": "util/wait-switch", "config": {"switch": "approved", "timeout": "P1D"},
             "on": {"timeout": "ship"}},
            {"name": "ship", "type": "util/set", "config": {"values": {"shipped": 2}}},
        ],
    }
    return v1, v2
