"""Named fault-injection points: tests install a hook that crashes the worker at an exact moment."""

AFTER_CLAIM = "after_claim"
AFTER_STEP_BEFORE_CHECKPOINT = "after_step_before_checkpoint"

_hooks = {}


class WorkerCrash(BaseException):
    """Raised by a hook to simulate the worker dying (a BaseException, so no step code catches it)."""


def hit(point, run):
    hook = _hooks.get(point)
    if hook is not None:
        hook(run)


def install(point, hook):
    _hooks[point] = hook


def clear():
    _hooks.clear()
