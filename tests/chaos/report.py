"""A scenario's report: what was injected, how many transactions, the figures, and what held."""
import json
import time


def no_violations(figures):
    """Raise AssertionError naming every violated check; return True when none was."""
    found = {name: items for name, items in figures["violations"].items() if items}
    if found:
        raise AssertionError(f"violations: {json.dumps(found, default=str)[:3000]}")
    return True


class Report:
    def __init__(self, title, system=None):
        self.title = title
        self.began = time.monotonic()
        self.lines = []
        self.transactions = 0
        self.data = {}

    def injected(self, text):
        self.lines.append(("injected", text))

    def figures(self, figures, counts=None, **extra):
        self.transactions = figures.get("transactions", 0)
        shown = {key: figures[key] for key in ("by_status", "executions", "lost_runs", "recovery_max_seconds")
                 if key in figures}
        self.data.update(shown, **extra)
        self.lines.append(("figures", json.dumps({**shown, **extra}, default=str)))

    def held(self, ok, text):
        self.lines.append(("held" if ok else "FAILED", text))

    def render(self):
        seconds = time.monotonic() - self.began
        out = [f"== {self.title}: {self.transactions} transactions, {seconds:.0f} s"]
        out += [f"   {label:>8}: {text}" for label, text in self.lines]
        return "\n".join(out)
