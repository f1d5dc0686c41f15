"""How services tell the runtime that work is ready; the backend is chosen by DATP["DISPATCHER"].

`inline`: nothing is sent; the caller (engine.testing, or a node's loop) drains the queue itself.
"""
from engine import conf

_listeners = []


def work_available(node_group):
    """Called after a commit that queued work for `node_group`."""
    for listener in list(_listeners):
        listener(node_group)
    if conf.get("DISPATCHER") == "inline":
        return


def add_listener(listener):
    _listeners.append(listener)


def remove_listener(listener):
    if listener in _listeners:
        _listeners.remove(listener)
