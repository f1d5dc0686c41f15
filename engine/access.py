"""Who may see and do what: console roles (Django groups) and the owners a user belongs to.

Roles rise viewer < operator < admin < system; a superuser is a system user. System users see
every owner; everyone else sees only the owners they are a member of (`Owner.members`).
"""
from dataclasses import dataclass

ROLES = ("viewer", "operator", "admin", "system")
GROUP_PREFIX = "mondat-"
GROUP_NAMES = tuple(GROUP_PREFIX + role for role in ROLES)


def role_rank(role):
    return ROLES.index(role) if role in ROLES else -1


@dataclass(frozen=True)
class Scope:
    """What one user may reach: `owners` is a tuple of owner names, or None for every owner."""

    actor: str
    role: str | None
    owners: tuple | None

    @property
    def is_system(self):
        return self.role == "system"

    def allows(self, role):
        return role_rank(self.role) >= role_rank(role)

    def sees_owner(self, owner):
        return self.owners is None or owner in self.owners


def user_role(user):
    """The highest console role of `user`, or None."""
    if not user.is_authenticated or not user.is_active:
        return None
    if user.is_superuser:
        return "system"
    names = {name for name in user.groups.values_list("name", flat=True) if name in GROUP_NAMES}
    roles = [role for role in ROLES if GROUP_PREFIX + role in names]
    return roles[-1] if roles else None


def user_scope(user):
    """The Scope of a logged-in user (cached on the user object for the request)."""
    cached = getattr(user, "_datp_scope", None)
    if cached is not None:
        return cached
    role = user_role(user)
    if role == "system":
        owners = None
    elif role is None:
        owners = ()
    else:
        owners = tuple(sorted(user.datp_owners.values_list("name", flat=True)))
    scope = Scope(actor=f"user:{user.get_username()}", role=role, owners=owners)
    user._datp_scope = scope
    return scope
