"""A pipeline's child pipelines must exist when it is loaded: each name a step gives is checked against the
stored pipelines and the ones loaded with it, and a missing one is a problem at the field that names it."""
import difflib

from engine.models import Pipeline


def check_children(children, *, known, errors):
    """Add a problem to `errors` for each `(path, name)` in `children` that names no pipeline: neither one
    of `known` (this one and those loaded with it) nor a stored one."""
    wanted = {name for _, name in children} - set(known)
    if not wanted:
        return
    stored = set(Pipeline.objects.filter(name__in=wanted, current_version__isnull=False)
                 .values_list("name", flat=True))
    missing = [(path, name) for path, name in children if name in wanted - stored]
    if not missing:
        return
    every = {*Pipeline.objects.filter(current_version__isnull=False).values_list("name", flat=True),
             *(name for name in known if isinstance(name, str))}
    for path, name in missing:
        close = difflib.get_close_matches(name, sorted(every), n=1)
        hint = f": did you mean `{close[0]}`?" if close else ""
        errors.append(f"{path}: no pipeline named {name!r}{hint}")
