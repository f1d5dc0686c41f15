"""docs/step-types.md documents every built-in step type and every setting of its config_schema, with
settings tables generated from the schema (`manage.py datp_docs step-types --builtin --update ...`)."""
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from engine.steps import Step, reference, registry

DOC = Path(__file__).resolve().parents[2] / "docs" / "step-types.md"
UPDATE = "python manage.py datp_docs step-types --builtin --update docs/step-types.md"


def undocumented(text, types):
    """Return what `text` lacks for `types`: a heading, a settings section, a setting, a current table."""
    problems = []
    sections = {match["type"]: match["body"] for match in reference.SECTION.finditer(text)}
    for name, step_type in types.items():
        if f"### `{name}`" not in text:
            problems.append(f"{name}: no heading ### `{name}`")
        if name not in sections:
            problems.append(f"{name}: no <!-- settings: {name} --> section")
            continue
        body = sections[name]
        for prop in step_type.config_schema.get("properties", {}):
            if f"`{prop}`" not in body:
                problems.append(f"{name}: setting `{prop}` is not documented")
    if reference.update_sections(text, types) != text:
        problems.append(f"a settings table is out of date: run {UPDATE}")
    return problems


def test_every_builtin_and_every_setting_is_documented_and_current():
    builtins = reference.builtin_types()
    assert len(builtins) >= 14
    problems = undocumented(DOC.read_text(), builtins)
    assert not problems, "\n".join(problems)


def test_every_builtin_setting_has_a_description():
    missing = [f"{name}.{prop}" for name, step_type in reference.builtin_types().items()
               for prop, schema in step_type.config_schema.get("properties", {}).items()
               if not schema.get("description")]
    assert missing == []


def test_the_alias_util_wait_is_documented():
    assert "util/wait" in registry._aliases and "(alias `util/wait`)" in DOC.read_text()


class NewSetting(Step):
    """A built-in that grew a setting nobody documented."""

    type_name = "util/echo"
    config_schema = {"type": "object", "properties": {"loud": {"type": "boolean", "description": "Shout."}},
                     "additionalProperties": False}


def test_a_new_setting_or_a_new_type_without_docs_is_caught():
    text = DOC.read_text()
    assert undocumented(text, {"util/echo": NewSetting}) == [
        "util/echo: setting `loud` is not documented",
        f"a settings table is out of date: run {UPDATE}",
    ]
    assert undocumented(text, {"util/brand-new": NewSetting}) == [
        "util/brand-new: no heading ### `util/brand-new`",
        "util/brand-new: no <!-- settings: util/brand-new --> section",
    ]


def test_a_table_shows_each_setting_its_kind_requirement_default_and_meaning():
    table = reference.settings_table(registry.get("util/wait-switch").config_schema)
    assert "| `switch` | name (1 to 64 of `A-Za-z0-9_.:-`) | yes |  | The switch's name. |" in table
    assert "| `scope` | `transaction` \\| `global` |  | `transaction` |" in table
    assert "| `timeout` | ISO 8601 duration |" in table
    sleep = reference.settings_table(registry.get("util/sleep").config_schema)
    assert "Give exactly one of: `duration`; `until`; `duration_field`." in sleep
    assert reference.settings_table(registry.get("util/echo").config_schema) == (
        "No settings: `config` must be empty or absent.\n")


def test_the_command_rewrites_the_sections_and_names_types_without_one(tmp_path, capsys):
    page = tmp_path / "steps.md"
    page.write_text("# Mine\n\n<!-- settings: util/set -->\nstale\n<!-- /settings -->\n")
    call_command("datp_docs", "step-types", "--builtin", "--update", str(page))
    text = page.read_text()
    assert "stale" not in text and "| `values` | object | yes |" in text
    out = capsys.readouterr().out
    assert "updated" in out and "No settings section for: util/await" in out
    call_command("datp_docs", "step-types", "--builtin", "--update", str(page))
    assert "already current" in capsys.readouterr().out


def test_the_command_prints_a_reference_of_every_registered_type(capsys):
    call_command("datp_docs", "step-types")
    out = capsys.readouterr().out
    for name in registry.all_types():
        assert f"### `{name}`\n" in out


def test_the_command_refuses_a_file_that_does_not_exist(tmp_path):
    with pytest.raises(CommandError, match="no such file"):
        call_command("datp_docs", "step-types", "--update", str(tmp_path / "nowhere.md"))
