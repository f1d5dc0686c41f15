"""util/choice: end with the outcome the first matching rule names, for `on` to route (issue 18)."""
from engine.steps import Step, register
from engine.steps import rules


@register
class Choice(Step):
    """End at once with the outcome of the first rule whose condition holds for the input, else `default`;
    the output is the input. Route the outcomes with `on`."""

    type_name = "util/choice"
    config_schema = rules.CONFIG_SCHEMA
    fixed_settings = ("rules", "default")  # never from data: loading checks the routes against them

    @classmethod
    def config_problems(cls, config):
        return rules.validate_rules(config)

    @classmethod
    def outcomes_for(cls, config):
        return tuple(rules.outcomes_of(config))

    def invoke(self, ctx):
        outcome, index = rules.choose(ctx.config, ctx.input)
        if index is None:
            return ctx.outcome(outcome, note=f"no rule held: default {outcome!r}")
        rule = ctx.config["rules"][index]
        said = rule.get("description") or rules.summary(rule["when"])
        return ctx.outcome(outcome, note=f"rule {index + 1} ({said}): {outcome!r}")
