"""The pipeline definitions and steps shown in the docs load: each ```json block of docs/*.md that is a whole
pipeline, and each step written alone (a line of its own), wrapped in a pipeline of one step."""
import json
import re
from pathlib import Path

import pytest

from engine.services.pipelines import pipelines_publish_all

ROOT = Path(__file__).resolve().parents[2]
BLOCK = re.compile(r"^```json\n(.*?)^```", re.M | re.S)


def json_examples(text):
    """Return every JSON object a ```json block holds: the whole block, else each line that parses alone."""
    found = []
    for block in BLOCK.findall(text):
        try:
            found.append(json.loads(block))
        except json.JSONDecodeError:
            for line in block.splitlines():
                try:
                    found.append(json.loads(line.strip().rstrip(",")))
                except json.JSONDecodeError:
                    continue
    return [item for item in found if isinstance(item, dict)]


def documented_pipelines():
    """Return (label, definition) of each pipeline and each util/* step of the docs."""
    pipelines = []
    for path in sorted((ROOT / "docs").glob("*.md")):
        for index, item in enumerate(json_examples(path.read_text())):
            label = f"{path.name} example {index + 1}"
            if "steps" in item:
                pipelines.append((label, item))
            elif str(item.get("type", "")).startswith("util/"):
                step = {key: value for key, value in item.items() if key != "on"}  # routes name absent steps
                pipelines.append((label, {"name": f"doc-step-{len(pipelines)}", "steps": [step]}))
    return pipelines


def test_the_docs_show_pipelines_and_steps():
    labels = " ".join(label for label, _ in documented_pipelines())
    assert "pipelines.md" in labels and "step-types.md" in labels
    assert len(documented_pipelines()) >= 10


@pytest.mark.django_db
def test_every_pipeline_and_step_the_docs_show_loads():
    shipped = {definition["name"]: definition for definition in
               (json.loads(path.read_text()) for path in sorted((ROOT / "pipelines").glob("*.json")))}
    own = []
    for label, definition in documented_pipelines():
        if definition["name"] in shipped:  # a doc may quote a shipped pipeline: then exactly as shipped
            assert definition == shipped[definition["name"]], f"{label} differs from pipelines/"
        else:
            own.append((label, definition))
    results = pipelines_publish_all(definitions=[*shipped.items(), *own])
    assert len(results) == len(shipped) + len(own) and len(own) >= 5
