"""The one asking: a user acting through a token or a console session, or the system."""

from __future__ import annotations

from dataclasses import dataclass, field

from controller.access.roles import ROLE_PERMISSIONS, SITE_SCOPED, Permission, Role
from controller.errors import Forbidden, NotFound


@dataclass(frozen=True)
class Actor:
    name: str
    role: Role
    user_id: int | None = None
    # None: every site. A set: only these (a USA's sites).
    site_ids: frozenset[int] | None = None
    token_id: int | None = None
    session_id: int | None = None
    request_id: str = ""
    permissions: frozenset[Permission] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "permissions", ROLE_PERMISSIONS[self.role])

    @classmethod
    def for_user(
        cls,
        *,
        user_id: int,
        username: str,
        role: Role,
        owner_role: Role,
        user_site_ids: list[int],
        token_id: int | None = None,
        session_id: int | None = None,
        request_id: str = "",
    ) -> Actor:
        # Scope follows the user, not the role a token narrows to: a USA's read-only
        # token still sees only the USA's sites.
        return cls(
            name=username,
            role=role,
            user_id=user_id,
            site_ids=frozenset(user_site_ids) if owner_role in SITE_SCOPED else None,
            token_id=token_id,
            session_id=session_id,
            request_id=request_id,
        )

    @classmethod
    def system(cls, name: str, request_id: str = "") -> Actor:
        """The controller itself (enrolment, the CLI on the server): every permission."""
        return cls(name=name, role=Role.ADMIN, request_id=request_id)

    def can(self, permission: Permission) -> bool:
        return permission in self.permissions

    def require(self, permission: Permission) -> None:
        if permission not in self.permissions:
            raise Forbidden(f"role {self.role} may not {permission}")

    def sees_site(self, site_id: int | None) -> bool:
        return self.site_ids is None or (site_id is not None and site_id in self.site_ids)

    def require_site(self, site_id: int | None, kind: str, key: object) -> None:
        """Objects outside the actor's sites do not exist for them: 404, never 403."""
        if not self.sees_site(site_id):
            raise NotFound(kind, key)
