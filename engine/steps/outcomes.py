"""The outcomes a step returns: built only through the context, read only by the runtime."""
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Outcome:
    """A step ended: `kind` is success, failed, aborted, timeout or cancelled."""

    kind: str
    note: str | None = None
    output: dict | None = None


@dataclass(frozen=True)
class Wait:
    """Run this step again later: when any of the conditions holds, or at `wake_at`/`timeout_at`."""

    wake_at: datetime | None = None
    timeout_at: datetime | None = None
    switch: str | None = None
    scope: str = "transaction"
    callback: str | None = None
    child: str | None = None
    poll_seconds: float | None = None
    note: str | None = None

    @property
    def time_only(self):
        return self.switch is None and self.callback is None and self.child is None

    @property
    def next_time(self):
        times = [moment for moment in (self.wake_at, self.timeout_at) if moment is not None]
        return min(times) if times else None

    @property
    def reason(self):
        if self.switch is not None:
            return "switch"
        if self.callback is not None:
            return "callback"
        if self.child is not None:
            return "child"
        return "timer"
