"""API tokens: shown once at creation, stored hashed, revocable."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from controller.access import tokens
from controller.access.actor import Actor
from controller.access.roles import Permission, Role
from controller.api.deps import SessionDep, allowed
from controller.api.fields import Name
from controller.api.paging import Cursor, Limit, PageOf
from controller.storage.models import ApiToken

router = APIRouter(prefix="/tokens", tags=["tokens"])
Owner = Annotated[Actor, Depends(allowed(Permission.TOKENS_OWN))]


class TokenCreate(BaseModel):
    name: Name
    user_id: int | None = Field(default=None, description="whose token; default: your own")
    expires_at: dt.datetime | None = Field(default=None, description="default: in 90 days")
    role: Role | None = Field(default=None, description="act with a narrower role than the owner's")


class TokenPublic(BaseModel):
    id: int
    name: str
    user_id: int
    role: Role
    created_at: dt.datetime
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None
    last_used_at: dt.datetime | None

    @classmethod
    def of(cls, row: ApiToken) -> TokenPublic:
        return cls(
            id=row.id,
            name=row.name,
            user_id=row.user_id,
            role=Role(row.role),
            created_at=row.created_at,
            expires_at=row.expires_at,
            revoked_at=row.revoked_at,
            last_used_at=row.last_used_at,
        )


class TokenIssued(TokenPublic):
    token: str = Field(description="the secret: shown this once, stored only as a hash")


@router.get("")
async def list_(
    session: SessionDep,
    actor: Owner,
    user_id: Annotated[int | None, Query(description="only this user's tokens")] = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> PageOf[TokenPublic]:
    page = await tokens.list_tokens(session, actor, user_id=user_id, limit=limit, cursor=cursor)
    return PageOf(items=[TokenPublic.of(t) for t in page.items], next_cursor=page.next_cursor)


@router.post("", status_code=201)
async def create(body: TokenCreate, session: SessionDep, actor: Owner) -> TokenIssued:
    issued = await tokens.create_token(session, actor, **body.model_dump())
    return TokenIssued(**TokenPublic.of(issued.row).model_dump(), token=issued.token)


@router.delete("/{token_id}")
async def revoke(token_id: int, session: SessionDep, actor: Owner) -> TokenPublic:
    """Revoke: the token stops working at once; its record stays for the audit trail."""
    return TokenPublic.of(await tokens.revoke_token(session, actor, token_id))
