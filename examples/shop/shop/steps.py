"""The shop's step types; DATP imports each installed app's `steps` module when Django starts."""
from engine.steps import Step, register

STOCK = {"A1": 3, "B2": 0}


@register
class ReserveStock(Step):
    """Reserve `quantity` of `sku`: success with the reservation, failed when the stock is short."""

    type_name = "shop/reserve-stock"
    config_schema = {"type": "object", "properties": {"warehouse": {"type": "string"}}, "additionalProperties": False}

    def invoke(self, ctx):
        sku, quantity = ctx.input["sku"], ctx.input.get("quantity", 1)
        if STOCK.get(sku, 0) < quantity:
            return ctx.failed(f"Only {STOCK.get(sku, 0)} of {sku} in stock")
        warehouse = ctx.config.get("warehouse", "main")
        return ctx.succeeded(output={**ctx.input, "reserved": {"warehouse": warehouse, "quantity": quantity}})
