"""An unknown step type says what to do: register the class defined for it, or use the registered name it
is close to (issue 17); the same words on every path that loads or runs a pipeline."""
import importlib
import sys

import pytest

from engine import checks
from engine.errors import InvalidPipeline
from engine.services.pipelines import pipeline_publish, pipeline_validate
from engine.steps import Step, hints, register, registry


class ReserveStock(Step):
    type_name = "shop/reserve-stock"

    def invoke(self, ctx):
        return ctx.succeeded("reserved")


class PackingStep(Step):
    """Declares its name but was never registered."""

    type_name = "shop/pack"

    def invoke(self, ctx):
        return ctx.succeeded("packed")


SHOP_STEPS = '''
from engine.steps import Step


class ShopReserve(Step):
    def invoke(self, ctx):
        return ctx.succeeded("reserved")
'''


@pytest.fixture
def reserve_stock():
    registry.register(ReserveStock)
    yield ReserveStock
    registry.unregister(ReserveStock.type_name)


@pytest.fixture
def shop_app(tmp_path, monkeypatch):
    """A host app `shop` whose steps module defines ShopReserve and forgets to register it."""
    (tmp_path / "shop").mkdir()
    (tmp_path / "shop" / "__init__.py").write_text("")
    (tmp_path / "shop" / "steps.py").write_text(SHOP_STEPS)
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("shop.steps")
    yield module
    registry.unregister("shop/reserve")
    for name in ("shop.steps", "shop"):
        sys.modules.pop(name, None)


def problems(definition):
    with pytest.raises(InvalidPipeline) as raised:
        pipeline_validate(definition=definition)
    return raised.value.errors


def one_step(step_type, name="orders"):
    return {"name": name, "steps": [{"name": "first", "type": "util/echo"}, {"name": "act", "type": step_type}]}


def test_a_class_defined_but_not_registered_is_named_with_its_file_and_the_line_to_add(db, shop_app):
    assert problems(one_step("shop/reserve")) == [(
        "steps[1].type: unknown step type 'shop/reserve': `ShopReserve` is defined in `shop/steps.py` but not "
        'registered: add `@register("shop/reserve")`'
    )]


def test_following_the_hint_registers_the_class_under_that_name(db, shop_app):
    register("shop/reserve")(shop_app.ShopReserve)
    assert shop_app.ShopReserve.type_name == "shop/reserve"
    assert registry.get("shop/reserve") is shop_app.ShopReserve
    assert pipeline_validate(definition=one_step("shop/reserve"))["steps"][1]["type"] == "shop/reserve"


def test_register_with_a_name_refuses_a_class_that_declares_another(db):
    with pytest.raises(ValueError, match="has type_name 'shop/pack', not 'shop/packing'"):
        register("shop/packing")(PackingStep)
    assert registry.get("shop/packing") is None


def test_a_declared_type_name_finds_its_class_whatever_the_class_is_called(db):
    assert problems(one_step("shop/pack")) == [(
        "steps[1].type: unknown step type 'shop/pack': `PackingStep` is defined in "
        '`tests/engine/test_step_type_hints.py` but not registered: add `@register("shop/pack")`'
    )]


def test_a_misspelt_name_close_to_a_registered_one_says_did_you_mean(db, reserve_stock):
    assert problems(one_step("shop/reserve-stok")) == [
        "steps[1].type: unknown step type 'shop/reserve-stok': did you mean `shop/reserve-stock`?"
    ]
    assert problems(one_step("util/sleap")) == [
        "steps[1].type: unknown step type 'util/sleap': did you mean `util/sleep`?"
    ]
    assert problems(one_step("util/child")) == [
        "steps[1].type: unknown step type 'util/child': did you mean `util/child-pipeline`?"
    ]


def test_a_name_like_nothing_gets_no_guess(db, reserve_stock):
    assert problems(one_step("acme/frobnicate")) == ["steps[1].type: unknown step type 'acme/frobnicate'"]
    # every built-in shares "util/": only the part after it is compared
    assert problems(one_step("util/nope")) == ["steps[1].type: unknown step type 'util/nope'"]


def test_the_harness_load_raises_with_the_hint_in_its_message(harness, shop_app):
    with pytest.raises(InvalidPipeline) as raised:
        harness.load(one_step("shop/reserve"))
    assert '`ShopReserve` is defined in `shop/steps.py` but not registered: add `@register("shop/reserve")`' \
        in str(raised.value)


def test_publishing_says_the_same(db, reserve_stock):
    with pytest.raises(InvalidPipeline) as raised:
        pipeline_publish(definition=one_step("shop/reserve-stok"))
    assert raised.value.errors == [
        "steps[1].type: unknown step type 'shop/reserve-stok': did you mean `shop/reserve-stock`?"
    ]


def test_a_step_type_gone_at_run_time_names_the_class_left_unregistered(harness, reserve_stock):
    harness.load(one_step("shop/reserve-stock"))
    tx_id = harness.start("orders")
    registry.unregister("shop/reserve-stock")
    result = harness.run(tx_id)
    assert result.status == "internal_error"
    assert result.tx.note == (
        "Step type 'shop/reserve-stock' is no longer registered: `ReserveStock` is defined in "
        '`tests/engine/test_step_type_hints.py` but not registered: add `@register("shop/reserve-stock")`'
    )


def test_a_registered_class_is_never_offered_as_unregistered(db, reserve_stock):
    assert hints.unregistered_for("shop/reserve-stock") is None
    assert hints.unregistered_for("shop/reservestock") is None


def test_the_start_up_check_of_pipelines_in_use_gives_the_same_hint(db, reserve_stock):
    pipeline_publish(definition=one_step("shop/reserve-stock"))
    registry.unregister("shop/reserve-stock")
    [warning] = checks.missing_step_types(databases=["default"])
    assert warning.id == "datp.W001"
    assert warning.hint == ('`ReserveStock` is defined in `tests/engine/test_step_type_hints.py` but not registered: '
                            'add `@register("shop/reserve-stock")`')


def test_an_app_steps_module_never_imported_says_how_to_import_it(db, tmp_path, monkeypatch):
    """A first-time author's app outside INSTALLED_APPS: its steps module exists but nothing imported it."""
    (tmp_path / "shipping").mkdir()
    (tmp_path / "shipping" / "__init__.py").write_text("")
    (tmp_path / "shipping" / "steps.py").write_text(
        "from engine.steps import Step, register\n\n\n@register\nclass Quote(Step):\n"
        "    type_name = 'shipping/quote'\n\n    def invoke(self, ctx):\n        return ctx.succeeded('quoted')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        assert problems(one_step("shipping/quote")) == [
            "steps[1].type: unknown step type 'shipping/quote': `shipping/steps.py` exists but is never imported, "
            'so nothing in it is registered: add `"shipping"` to INSTALLED_APPS, or `shipping.steps` to '
            'DATP["STEP_MODULES"] (environment: DATP_STEP_MODULES), or import it in your test'
        ]
        importlib.import_module("shipping.steps")
        assert pipeline_validate(definition=one_step("shipping/quote"))["steps"][1]["type"] == "shipping/quote"
    finally:
        registry.unregister("shipping/quote")
        for name in ("shipping.steps", "shipping"):
            sys.modules.pop(name, None)
