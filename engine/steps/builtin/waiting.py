"""Built-ins that wait: sleep, delay, wait-switch (alias util/wait)."""
import random

from engine.durations import MAX_WAIT_SECONDS, is_duration, parse_timestamp
from engine.errors import InvalidRequest
from engine.limits import NAME_PATTERN
from engine.steps import Step, register
from engine.util import get_path

DURATION = {"type": "string", "format": "duration"}
# A delay is a timer: at most the longest wait the engine hands to Python (durations.MAX_WAIT_SECONDS).
MILLISECONDS = {"type": "integer", "minimum": 0, "maximum": MAX_WAIT_SECONDS * 1000}


@register
class Sleep(Step):
    """Sleep for `duration`, until `until`, or for the duration held at `duration_field`; then succeed.

    The wake time is measured from the step's first run, so a restart never pushes it back.
    """

    type_name = "util/sleep"
    outcomes = ("success", "failed")
    config_schema = {
        "type": "object",
        "properties": {
            "duration": {**DURATION, "description": "How long to sleep, from the step's first run."},
            "until": {"type": "string", "format": "date-time", "description": "When to wake (with a zone)."},
            "duration_field": {"type": "string", "minLength": 1,
                               "description": "Dotted path of the input that holds the duration."},
        },
        "oneOf": [{"required": ["duration"]}, {"required": ["until"]}, {"required": ["duration_field"]}],
        "additionalProperties": False,
    }

    def invoke(self, ctx):
        if "until" in ctx.config:
            wake_at = parse_timestamp(ctx.config["until"])
        else:
            duration = ctx.config.get("duration")
            if duration is None:
                field = ctx.config["duration_field"]
                duration = get_path(ctx.input, field)
                if duration is None:
                    return ctx.failed(f"No duration at {field}")
                if not is_duration(duration):
                    return ctx.failed(f"Not an ISO 8601 duration at {field}: {duration!r}")
            try:
                wake_at = ctx.timeout_at(duration)
            except InvalidRequest as exc:  # from the input: longer than a datetime can hold from now
                return ctx.failed(f"{exc.message} ({duration!r})")
        if ctx.now() >= wake_at or ctx.wake_reason == "wake_now":
            return ctx.succeeded()
        return ctx.wait(until=wake_at, note="sleeping")


@register
class Delay(Step):
    """Sleep a random time between `min_ms` and `max_ms` (the input's `delay`, in ms, overrides both)."""

    type_name = "util/delay"
    outcomes = ("success", "failed")
    config_schema = {
        "type": "object",
        "properties": {
            "min_ms": {**MILLISECONDS, "default": 500, "description": "Shortest delay, in milliseconds."},
            "max_ms": {**MILLISECONDS, "default": 10000, "description": "Longest delay, in milliseconds."},
        },
        "additionalProperties": False,
    }

    def invoke(self, ctx):
        delay = ctx.input.get("delay")
        if isinstance(delay, int | float) and not isinstance(delay, bool) and delay >= 0:
            delay_ms = delay
        else:
            low = ctx.config.get("min_ms", 500)
            high = max(low, ctx.config.get("max_ms", 10000))
            # Seeded by the visit, so every run of this visit picks the same delay.
            delay_ms = random.Random(f"{ctx.tx_id}:{ctx.visit_started_at.isoformat()}").uniform(low, high)
        try:
            wake_at = ctx.timeout_at(delay_ms / 1000.0)
        except InvalidRequest as exc:  # the input's delay: longer than a datetime can hold from now
            return ctx.failed(f"delay: {exc.message}")
        if ctx.now() >= wake_at or ctx.wake_reason == "wake_now":
            return ctx.succeeded()
        return ctx.wait(until=wake_at, note="delay")


def _matches(current, config):
    if "value" in config:
        expected = config["value"]
        return current == expected and type(current) is type(expected)
    return bool(current)


@register
class WaitSwitch(Step):
    """Succeed as soon as the switch holds a truthy value (or exactly `value`); sleep on it otherwise.

    Outcome `timeout` when `timeout` (measured from the step's first run) passes.
    """

    type_name = "util/wait-switch"
    outcomes = ("success", "timeout")
    config_schema = {
        "type": "object",
        "properties": {
            "switch": {"type": "string", "pattern": NAME_PATTERN, "description": "The switch's name."},
            "scope": {"enum": ["transaction", "global"], "default": "transaction",
                      "description": "The transaction's own switch, or the owner's global switch."},
            "value": {"type": ["boolean", "number", "string", "null"],
                      "description": "Wait for exactly this value (same JSON type) instead of any truthy one."},
            "timeout": {**DURATION, "description": "End the step `timeout` when this passes (from its first run)."},
        },
        "required": ["switch"],
        "additionalProperties": False,
    }

    def invoke(self, ctx):
        name = ctx.config["switch"]
        scope = ctx.config.get("scope", "transaction")
        timeout = ctx.config.get("timeout")
        if _matches(ctx.get_switch(name, scope=scope), ctx.config):
            return ctx.succeeded()
        if timeout is not None and ctx.timeout_passed(timeout):
            return ctx.timeout(f"Switch {name} was not set within {timeout}")
        return ctx.wait(switch=name, scope=scope, timeout=timeout, note=f"waiting for switch {name}")
