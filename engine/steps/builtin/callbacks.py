"""Built-ins for background work: callback, callback-update, await."""
from engine import durations
from engine.errors import CallbackFinal, CallbackNotFound
from engine.limits import NAME_PATTERN
from engine.steps import Step, register
from engine.util import deep_merge, get_path

DURATION = {"type": "string", "format": "duration"}
POLL_MIN_SECONDS, POLL_MAX_SECONDS, POLL_DEFAULT = 2, 300, "PT10S"
FINAL_OUTCOMES = {"complete": "succeeded", "error": "failed", "cancel": "cancelled", "timeout": "timeout"}


@register
class CreateCallback(Step):
    """Create a callback (name, callback_data, timeout) and succeed. The output names it; its token and
    URL there are its marker (a credential flows on with no data: the owner reads the URL by the API)."""

    type_name = "util/callback"
    outcomes = ("success",)
    config_schema = {
        "type": "object",
        "properties": {
            "name": {"type": "string", "pattern": NAME_PATTERN, "default": "default",
                     "description": "The callback's name, unique in the transaction."},
            "callback_data": {"type": "object", "default": {},
                              "description": "Data kept with the callback; util/await merges it into its output."},
            "timeout": {**DURATION, "description": "The callback's own deadline, from its creation: the "
                        "engine forces it to `timeout` then, awaited or not."},
        },
        "additionalProperties": False,
    }

    def invoke(self, ctx):
        callback = ctx.create_callback(
            ctx.config.get("name", "default"), ctx.config.get("callback_data"), ctx.config.get("timeout")
        )
        named = {"name": callback["name"], "token": callback["ref"], "url": callback["ref"]}
        return ctx.succeeded(output={**ctx.input, "callback": named})


@register
class CallbackUpdate(Step):
    """Report `status` (and `data`) to the callback whose token, or marker, is at `token_field` of the input."""

    type_name = "util/callback-update"
    outcomes = ("success", "failed")
    config_schema = {
        "type": "object",
        "properties": {
            "status": {"enum": ["start", "progress", "complete", "error", "cancel"],
                       "description": "The status to report."},
            "data": {"type": "object", "description": "Deep-merged into the callback's saved data."},
            "token_field": {"type": "string", "minLength": 1, "default": "callback.token",
                            "description": "Dotted path of the input that holds the token or marker."},
        },
        "required": ["status"],
        "additionalProperties": False,
    }

    def invoke(self, ctx):
        field = ctx.config.get("token_field", "callback.token")
        token = get_path(ctx.input, field)
        if not isinstance(token, str):
            return ctx.failed(f"No callback token at {field}")
        try:
            ctx.update_callback(token, ctx.config["status"], ctx.config.get("data"))
        except CallbackNotFound:
            return ctx.failed("Unknown callback token")
        except CallbackFinal:
            return ctx.failed("The callback is already final")
        return ctx.succeeded()


def poll_interval(config, now):
    """The re-check interval in seconds: `poll_interval` (or `callbackPollInterval`), clamped to 2 s..5 min."""
    value = config.get("poll_interval", config.get("callbackPollInterval", POLL_DEFAULT))
    seconds = durations.seconds(value, now)
    return min(max(seconds, POLL_MIN_SECONDS), POLL_MAX_SECONDS)


@register
class Await(Step):
    """Sleep until the callback is final: complete → success, error → failed, cancel → cancelled,
    its deadline → timeout. The output is the input merged with callback_data, then the saved data."""

    type_name = "util/await"
    outcomes = ("success", "failed", "cancelled", "timeout")
    config_schema = {
        "type": "object",
        "properties": {
            "callback": {"type": "string", "pattern": NAME_PATTERN, "default": "default",
                         "description": "The name of the callback to await."},
            "poll_interval": {**DURATION, "default": "PT10S",
                              "description": "How often the waker re-checks the callback (clamped to PT2S..PT5M)."},
            "callbackPollInterval": {**DURATION, "description": "Alias of `poll_interval` (original DATP)."},
            "timeout": {**DURATION, "description": "End the step `timeout`, forcing the callback to `timeout`, "
                        "when this passes (from the step's first run)."},
        },
        "additionalProperties": False,
    }

    def invoke(self, ctx):
        name = ctx.config.get("callback", "default")
        callback = ctx.get_callback(name)
        if callback is None:
            return ctx.failed("Unknown callback")
        timeout = ctx.config.get("timeout")
        if callback["status"] not in FINAL_OUTCOMES and timeout is not None and ctx.timeout_passed(timeout):
            try:
                callback = ctx.update_callback(callback["ref"], "timeout")["callback"]
            except CallbackFinal:
                callback = ctx.get_callback(name)
        if callback["status"] in FINAL_OUTCOMES:
            output = deep_merge(deep_merge(ctx.input, callback["callback_data"]), callback["data"])
            builder = getattr(ctx, FINAL_OUTCOMES[callback["status"]])
            note = None if callback["status"] == "complete" else f"Callback {name}: {callback['status']}"
            return builder(note, output) if note else builder(output=output)
        return ctx.wait(callback=name, timeout=timeout, poll_interval=poll_interval(ctx.config, ctx.now()),
                        note=f"awaiting callback {name}")
