"""Lay a pipeline's steps out as a flow for an inline SVG: boxes top to bottom, routes as labelled arrows.

Only geometry is computed here; the template draws it, so every name is escaped by Django. After
`success` a step goes to `on.success`, else `on["*"]`, else to the next step (the last one ends the
pipeline); any other outcome, fixed or named, follows its route in `on` (an arrow labelled with its name,
`*` for every other), or ends the transaction with a failure (not drawn).
"""
from dataclasses import dataclass

from engine.steps.rules import summary

LEFT = 16
TOP = 12
BOX_WIDTH = 240
BOX_HEIGHT = 44
PITCH = 76
LANE_GAP = 30
LABEL_ROOM = 90
NAME_CHARS = 30


@dataclass(frozen=True)
class Box:
    name: str
    label: str
    step_type: str
    x: int
    y: int
    is_end: bool = False


@dataclass(frozen=True)
class Edge:
    outcome: str
    path: str
    label_x: int
    label_y: int
    implicit: bool
    why: str = ""  # for util/choice: the rules that give this outcome


def _short(text, limit=NAME_CHARS):
    text = str(text)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _choice_reasons(step):
    """For a util/choice step, what leads to each outcome: {outcome: "rule 1: /a > 1; otherwise"}."""
    config = step.get("config") if step.get("type") == "util/choice" else None
    if not isinstance(config, dict) or not isinstance(config.get("rules"), list):
        return {}
    reasons = {}
    for number, rule in enumerate(config["rules"], start=1):
        if isinstance(rule, dict) and isinstance(rule.get("outcome"), str):
            said = rule.get("description") or summary(rule.get("when"))
            reasons.setdefault(rule["outcome"], []).append(f"rule {number}: {said}")
    if isinstance(config.get("default"), str):
        reasons.setdefault(config["default"], []).append("otherwise")
    return {outcome: "; ".join(said) for outcome, said in reasons.items()}


def _routes(steps):
    """(source index, target index, outcome, implicit) for every drawn route; the end is index len(steps)."""
    index = {step.get("name"): position for position, step in enumerate(steps)}
    end = len(steps)
    routes = []
    for position, step in enumerate(steps):
        on = step.get("on") or {}
        if "success" in on:
            routes.append((position, index.get(on["success"], end), "success", False))
        elif "*" not in on:
            routes.append((position, position + 1, "success", True))
        for outcome, target in on.items():
            if outcome != "success":
                routes.append((position, index.get(target, end), outcome, False))
    return routes


def pipeline_flow(steps):
    """The flow of `steps` (a version's definition steps): {"boxes", "edges", "width", "height"}."""
    steps = [step for step in steps if isinstance(step, dict)]
    boxes = [Box(name=str(step.get("name", "")), label=_short(step.get("name", "")),
                 step_type=_short(step.get("type", ""), 36), x=LEFT, y=TOP + position * PITCH)
             for position, step in enumerate(steps)]
    boxes.append(Box(name="end", label="end", step_type="", x=LEFT, y=TOP + len(steps) * PITCH, is_end=True))
    edges = []
    outgoing = {}
    lanes = 0
    right = LEFT + BOX_WIDTH
    centre = LEFT + BOX_WIDTH // 2
    reasons = [_choice_reasons(step) for step in steps]
    for source, target, outcome, implicit in _routes(steps):
        why = reasons[source].get(outcome, "")
        source_y = boxes[source].y
        target_y = boxes[target].y
        if target == source + 1 and outcome == "success":
            edges.append(Edge(outcome, f"M{centre},{source_y + BOX_HEIGHT} V{target_y - 2}",
                              centre + 6, source_y + BOX_HEIGHT + 18, implicit, why))
            continue
        nth = outgoing.get(source, 0)
        outgoing[source] = nth + 1
        start_y = source_y + 8 + (nth * 12) % (BOX_HEIGHT - 12)
        end_y = target_y + BOX_HEIGHT // 2 + (4 if target < source else -4)
        lane_x = right + LANE_GAP + lanes * LANE_GAP
        lanes += 1
        edges.append(Edge(outcome, f"M{right},{start_y} H{lane_x} V{end_y} H{right + 3}",
                          lane_x + 4, start_y + (13 if end_y > start_y else -4), implicit, why))
    width = right + LANE_GAP * (lanes + 1) + LABEL_ROOM
    height = boxes[-1].y + BOX_HEIGHT + TOP
    return {"boxes": boxes, "edges": edges, "width": width, "height": height,
            "box_width": BOX_WIDTH, "box_height": BOX_HEIGHT}
