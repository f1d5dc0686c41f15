"""What the console's small action views share: the user's reason or note, a switch value, a safe way back,
query strings."""
import json

from django.contrib import messages
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme, urlencode

from engine.limits import REASON_MAX


def reason_of(request):
    """The reason the user typed (trimmed, at most REASON_MAX characters)."""
    return request.POST.get("reason", "").strip()[:REASON_MAX]


def note_of(request):
    """The note the user typed (a schedule's pause, resume or run now), trimmed and cut as a reason is."""
    return request.POST.get("note", "").strip()[:REASON_MAX]


def parse_switch_value(text):
    """A switch value typed in the console: JSON (true, 3, "x", null) as such, text that is not JSON as the
    text itself; JSON that is no scalar goes on to the engine, which refuses it with its message."""
    text = text.strip()
    try:
        return json.loads(text)
    except ValueError:
        return text


def back(request, default):
    """Redirect to the form's `next` when it is a path on this site, else to `default`."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                  require_https=request.is_secure()):
        return redirect(target)
    return redirect(default)


def failed(request, error, default):
    """Tell the user why an action was refused (a typed engine error) and go back."""
    messages.error(request, error.message)
    return back(request, default)


def with_query(path, **params):
    """`path` with the non-empty `params` as its query string."""
    query = urlencode({name: value for name, value in params.items() if value not in (None, "")})
    return f"{path}?{query}" if query else path
