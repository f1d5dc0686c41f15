"""The settings tables of the step-types reference, generated from each step type's `config_schema`.

A Markdown file holds, for each step type it documents, a section between the markers
`<!-- settings: TYPE -->` and `<!-- /settings -->`; `update_sections` rewrites what lies between them
(the table with a blank line on each side, so that Markdown renders it as a table),
so the prose around each table is written by hand and the table can never drift from the schema.
"""
import json
import re

from engine.limits import NAME_PATTERN, PIPELINE_NAME_PATTERN
from engine.steps import registry

SECTION = re.compile(r"(<!-- settings: (?P<type>\S+) -->\n)(?P<body>.*?)(<!-- /settings -->)", re.S)
FORMATS = {"duration": "ISO 8601 duration", "date-time": "ISO 8601 timestamp"}
TYPES = {"string": "text", "object": "object", "boolean": "boolean", "integer": "whole number", "number": "number",
         "array": "list", "null": "null"}
PATTERNS = {NAME_PATTERN: "name (1 to 64 of `A-Za-z0-9_.:-`)", PIPELINE_NAME_PATTERN: "pipeline name"}


def builtin_types():
    """Return {type name: class} of the built-in step types (those defined in engine.steps.builtin)."""
    return {name: cls for name, cls in registry.all_types().items()
            if cls.__module__.startswith("engine.steps.builtin.")}


def _cell(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def _code(value):
    return f"`{json.dumps(value, ensure_ascii=False)}`" if not isinstance(value, str) else f"`{value}`"


def describe_type(prop):
    """Return the kind of value a property of a config_schema takes, in words."""
    if "enum" in prop:
        return " | ".join(_code(value) for value in prop["enum"])
    if prop.get("format") in FORMATS:
        return FORMATS[prop["format"]]
    kinds = prop.get("type", "any")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    words = []
    for kind in kinds:
        word = TYPES.get(kind, kind)
        if kind == "array" and isinstance(prop.get("items"), dict):
            word = f"list of {describe_type(prop['items'])}"
        if kind == "object" and isinstance(prop.get("additionalProperties"), dict):
            word = f"object of {describe_type(prop['additionalProperties'])}"
        if kind == "string" and "pattern" in prop:
            word = PATTERNS.get(prop["pattern"], f"text matching `{prop['pattern']}`")
        words.append(word)
    text = " or ".join(words)
    bounds = [f"{word} {prop[key]}" for key, word in (("minimum", "from"), ("maximum", "to")) if key in prop]
    return f"{text} ({' '.join(bounds)})" if bounds else text


def _rules(schema):
    lines = []
    choices = [sorted(option.get("required", [])) for option in schema.get("oneOf", [])]
    if choices:
        options = [" and ".join(f"`{name}`" for name in choice) for choice in choices]
        lines.append(f"Give exactly one of: {'; '.join(options)}.")
    if schema.get("additionalProperties") is False:
        lines.append("Other settings are refused when the pipeline is loaded.")
    return lines


def settings_table(schema):
    """Return the Markdown of a config_schema: a table of its properties and a line for each rule."""
    properties = schema.get("properties", {})
    if not properties:
        closed = schema.get("additionalProperties") is False
        return "No settings: `config` must be empty or absent.\n" if closed else "Any `config` object.\n"
    required = set(schema.get("required", []))
    rows = ["| setting | value | required | default | meaning |", "| --- | --- | --- | --- | --- |"]
    for name, prop in properties.items():
        default = _cell(_code(prop["default"])) if "default" in prop else ""
        rows.append(f"| `{name}` | {_cell(describe_type(prop))} | {'yes' if name in required else ''} | {default} "
                    f"| {_cell(prop.get('description', ''))} |")
    return "\n".join(rows + [""] + _rules(schema)).rstrip("\n") + "\n"


def update_sections(text, types):
    """Return `text` with the body of each settings section replaced by its step type's table; a section
    naming a type not in `types` is left as it is."""
    def replace(match):
        step_type = types.get(match["type"])
        if step_type is None:
            return match.group(0)
        return f"{match.group(1)}\n{settings_table(step_type.config_schema)}\n{match.group(4)}"
    return SECTION.sub(replace, text)


def section_types(text):
    """Return the step type names that `text` has a settings section for."""
    return [match["type"] for match in SECTION.finditer(text)]


def reference(types):
    """Return a Markdown reference of `types` ({name: class}): a heading, description and table each."""
    parts = []
    for name, step_type in types.items():
        parts.append(f"### `{name}`\n\n{step_type.describe()}\n\n<!-- settings: {name} -->\n\n"
                     f"{settings_table(step_type.config_schema)}\n<!-- /settings -->\n")
    return "\n".join(parts)
