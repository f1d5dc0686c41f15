"""MONDAT's answer to a locked-out login (django-axes' AXES_LOCKOUT_CALLABLE): the log-in page, saying when
the username may try again from this address."""
from axes.helpers import get_cool_off
from django.shortcuts import render
from django.utils import timezone

LOCKED_STATUS = 429


def locked_out(request, original_response=None, credentials=None):
    """Render the log-in page with the time the lock ends: axes counts the cool-off from the latest attempt,
    this one included, so it ends one cool-off from now."""
    cool_off = get_cool_off(request)
    context = {"locked": True, "retry_at": timezone.now() + cool_off if cool_off else None,
               "next": request.POST.get("next", "")}
    return render(request, "monitoring/login.html", context, status=LOCKED_STATUS)
