"""One readable line for the journal entries whose data alone says little at a glance: a rewind and a version move.

`describe(entry)` returns the line (plain text: the template escapes it) or None for the other kinds, which the
Transaction page shows as their JSON only."""


def short(version):
    """A version id as the console shows it: its first 12 characters."""
    return str(version)[:12] if version else "?"


def _reason(data):
    reason = data.get("reason")
    return f"; reason: {reason}" if reason else ""


def _rewind(data, step):
    line = (f"Rewound from {data.get('from_step') or '?'} ({data.get('from', '?')}, version "
            f"{short(data.get('from_version'))}) to step {step or '?'}")
    if data.get("version") != data.get("from_version"):
        line += f" on version {short(data.get('version'))}"
    source = data.get("data_from")
    if source:
        line += f"; its data: {'as given' if source == 'given' else 'the input of ' + source}"
    webhook = data.get("webhook")
    if webhook == "again":
        line += "; the finished webhook is sent again"
    return line + _reason(data)


def _version_move(data, step):
    line = (f"Moved from version {short(data.get('from_version'))} to {short(data.get('to_version'))} while "
            f"{data.get('status', '?')} at step {step or '?'}")
    changes = data.get("changes") or []
    line += f"; changed there: {', '.join(map(str, changes))}" if changes else "; that step is unchanged"
    return line + _reason(data)


DESCRIBERS = {"rewind": _rewind, "version_move": _version_move}


def describe(entry):
    """The readable line of a journal entry, or None when its kind has none."""
    describer = DESCRIBERS.get(entry.kind)
    if describer is None or not isinstance(entry.data, dict):
        return None
    return describer(entry.data, entry.step)
