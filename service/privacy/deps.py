"""Who is acting, for the audit trail: the calling user and their address, as dependencies
of the API's routes (the user is authenticated once per request, however many ask)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from service.deps import AdminDep, UserDep, client_address
from service.privacy.audit import Actor


async def current_actor(user: UserDep, request: Request) -> Actor:
    """The calling user (401 without one) and where the request came from."""
    return Actor(user.id, client_address(request))


async def admin_actor(admin: AdminDep, request: Request) -> Actor:
    """The calling admin (403 for anyone else) and where the request came from."""
    return Actor(admin.id, client_address(request))


ActorDep = Annotated[Actor, Depends(current_actor)]
AdminActor = Annotated[Actor, Depends(admin_actor)]
