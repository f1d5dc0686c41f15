"""Template context for every console page: the user's role, for the navigation bar, and the input limits."""
from django.urls import reverse

from engine.access import user_scope
from engine.limits import REASON_MAX, SWITCH_TEXT_MAX


def console(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not request.path.startswith(reverse("mondat:dashboard")):
        return {}
    scope = user_scope(user)
    return {"console_scope": scope}


def limits(request):
    """The input limits the console's forms state as `maxlength`, from their one home."""
    return {"reason_max": REASON_MAX, "switch_text_max": SWITCH_TEXT_MAX}
