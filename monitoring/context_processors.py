"""Template context for every console page: the user's role, for the navigation bar."""
from engine.access import user_scope


def console(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not request.path.startswith("/mondat/"):
        return {}
    scope = user_scope(user)
    return {"console_scope": scope}
