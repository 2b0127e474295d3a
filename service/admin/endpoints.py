"""Routes of the admin API: communities, grids, residents, contacts, users, gateways, devices;
the audit trail, a resident's export and erasure.

Every route needs an admin's user token: the router itself depends on `current_admin`, so no
route can be added without it. Reads of a resident's data and changes to it are audited
(`service.privacy.audit`), changes in their own transaction.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, status
from fastapi.responses import StreamingResponse
from pydantic import AwareDatetime

from service.admin import communities, contacts, devices, gateways, residents, users
from service.admin.schemas import (
    CommunityCreate,
    CommunityUpdate,
    ContactCreate,
    ContactUpdate,
    DeviceAssignment,
    GatewayCreate,
    GridCreate,
    GridUpdate,
    IssuedGateway,
    ResidentCreate,
    ResidentUpdate,
    UserCreate,
    UserUpdate,
)
from service.deps import PoolDep, Transaction, current_admin
from service.ids import BIGINT_MAX, Id
from service.privacy import audit, erasure, export
from service.privacy.deps import AdminActor

router = APIRouter(
    prefix="/v1/admin",
    tags=["admin"],
    dependencies=[Depends(current_admin)],
    responses={
        401: {"description": "No user token, or an unknown or revoked one"},
        403: {"description": "The user is not an admin"},
    },
)

CREATED = status.HTTP_201_CREATED
NO_CONTENT = status.HTTP_204_NO_CONTENT
UserIndex = Annotated[int, Path(ge=0, le=255, description="Device user; 255 = unknown/single.")]
# As the gateways send it: printable text (PostgreSQL text cannot hold NUL, so it is refused here).
DeviceSerial = Annotated[str, Path(pattern=r"^[^\x00-\x1f\x7f]+$", description="Device serial.")]


@router.post("/communities", status_code=CREATED)
async def post_community(body: CommunityCreate, conn: Transaction) -> communities.Community:
    """Create a community; its name must be unused (409 otherwise)."""
    return await communities.create_community(conn, body)


@router.get("/communities")
async def get_communities(conn: Transaction) -> list[communities.Community]:
    """Every community, by name."""
    return await communities.list_communities(conn)


@router.get("/communities/{community_id}")
async def get_community(community_id: Id, conn: Transaction) -> communities.Community:
    """One community."""
    return await communities.get_community(conn, community_id)


@router.patch("/communities/{community_id}")
async def patch_community(
    community_id: Id, body: CommunityUpdate, conn: Transaction
) -> communities.Community:
    """Change a community's fields that are sent; the others stay."""
    return await communities.update_community(conn, community_id, body)


@router.delete("/communities/{community_id}", status_code=NO_CONTENT)
async def delete_community(community_id: Id, conn: Transaction) -> None:
    """Delete a community and its grids; refused (409) while residents live in it."""
    await communities.delete_community(conn, community_id)


@router.post("/communities/{community_id}/grids", status_code=CREATED)
async def post_grid(community_id: Id, body: GridCreate, conn: Transaction) -> communities.Grid:
    """Create a grid in a community; grid names are unique within a community."""
    return await communities.create_grid(conn, community_id, body)


@router.get("/communities/{community_id}/grids")
async def get_grids(community_id: Id, conn: Transaction) -> list[communities.Grid]:
    """The grids of a community, by name."""
    return await communities.list_grids(conn, community_id)


@router.get("/grids/{grid_id}")
async def get_grid(grid_id: Id, conn: Transaction) -> communities.Grid:
    """One grid."""
    return await communities.get_grid(conn, grid_id)


@router.patch("/grids/{grid_id}")
async def patch_grid(grid_id: Id, body: GridUpdate, conn: Transaction) -> communities.Grid:
    """Rename a grid."""
    return await communities.update_grid(conn, grid_id, body)


@router.delete("/grids/{grid_id}", status_code=NO_CONTENT)
async def delete_grid(grid_id: Id, conn: Transaction) -> None:
    """Delete a grid; refused (409) while residents are in it."""
    await communities.delete_grid(conn, grid_id)


@router.post("/residents", status_code=CREATED)
async def post_resident(
    body: ResidentCreate, actor: AdminActor, conn: Transaction
) -> residents.Resident:
    """Create a resident; the grid, if any, must lie in the resident's community (422)."""
    return await residents.create_resident(conn, body, actor=actor)


@router.get("/residents")
async def get_residents(
    conn: Transaction,
    actor: AdminActor,
    community_id: Id | None = None,
    grid_id: Id | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=BIGINT_MAX)] = 0,
) -> list[residents.Resident]:
    """Residents in id order, optionally of one community and/or grid; one page at a time.
    Audited as one entry with how many."""
    found = await residents.list_residents(
        conn, community_id=community_id, grid_id=grid_id, limit=limit, offset=offset
    )
    await audit.record(conn, actor, "list residents", None, residents=len(found))
    return found


@router.get("/residents/{resident_id}")
async def get_resident(resident_id: Id, actor: AdminActor, conn: Transaction) -> residents.Resident:
    """One resident; audited."""
    resident = await residents.get_resident(conn, resident_id)
    await audit.record(conn, actor, "read resident", resident_id)
    return resident


@router.patch("/residents/{resident_id}")
async def patch_resident(
    resident_id: Id, body: ResidentUpdate, actor: AdminActor, conn: Transaction
) -> residents.Resident:
    """Change a resident's fields that are sent; the others stay."""
    return await residents.update_resident(conn, resident_id, body, actor=actor)


@router.delete("/residents/{resident_id}", status_code=NO_CONTENT)
async def delete_resident(resident_id: Id, actor: AdminActor, pool: PoolDep) -> None:
    """Erase a resident: their readings, contacts, family links, device assignments, alerts,
    the messages about them, notes and everything else Linli holds about them. The audit
    trail keeps their number, who erased them and when."""
    await erasure.erase_resident(pool, resident_id, actor)


@router.get(
    "/residents/{resident_id}/export",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "One JSON document: profile, contacts, family members, devices,"
            " readings, findings, alerts, messages sent, notes and audit entries",
            "content": {"application/json": {}},
        },
        404: {"description": "No such resident"},
    },
)
async def export_resident(
    resident_id: Id, actor: AdminActor, conn: Transaction, pool: PoolDep
) -> StreamingResponse:
    """Everything Linli holds about a resident, as one JSON document (a copy on request);
    audited before any of it is sent."""
    await export.audit_export(conn, actor, resident_id)
    return StreamingResponse(
        export.stream(pool, resident_id),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="resident-{resident_id}.json"'},
    )


@router.get("/audit")
async def get_audit(
    conn: Transaction,
    resident_id: Annotated[Id | None, Query(description="Only entries about them.")] = None,
    user_id: Annotated[Id | None, Query(description="Only what this user did.")] = None,
    since: Annotated[AwareDatetime | None, Query(description="From (inclusive).")] = None,
    before_id: Annotated[
        Id | None, Query(description="The next page: entries older than this id.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[audit.AuditEntry]:
    """The audit trail, newest first: who saw or changed which resident's data, when, from
    where, and which fields. A page at a time: pass the last id as before_id for the next."""
    return await audit.entries(
        conn,
        resident_id=resident_id,
        user_id=user_id,
        since=since,
        before_id=before_id,
        limit=limit,
    )


@router.post("/residents/{resident_id}/contacts", status_code=CREATED)
async def post_contact(
    resident_id: Id, body: ContactCreate, actor: AdminActor, conn: Transaction
) -> contacts.Contact:
    """Add a contact to a resident; without escalation_order it comes after the others."""
    return await contacts.create_contact(conn, resident_id, body, actor=actor)


@router.get("/residents/{resident_id}/contacts")
async def get_contacts(
    resident_id: Id, actor: AdminActor, conn: Transaction
) -> list[contacts.Contact]:
    """A resident's contacts in escalation order; audited."""
    found = await contacts.list_contacts(conn, resident_id)
    await audit.record(conn, actor, "read contacts", resident_id)
    return found


@router.get("/contacts/{contact_id}")
async def get_contact(contact_id: Id, actor: AdminActor, conn: Transaction) -> contacts.Contact:
    """One contact; audited."""
    contact = await contacts.get_contact(conn, contact_id)
    await audit.record(conn, actor, "read contacts", contact.resident_id, contact_id=contact_id)
    return contact


@router.patch("/contacts/{contact_id}")
async def patch_contact(
    contact_id: Id, body: ContactUpdate, actor: AdminActor, conn: Transaction
) -> contacts.Contact:
    """Change a contact's fields that are sent; the others stay."""
    return await contacts.update_contact(conn, contact_id, body, actor=actor)


@router.delete("/contacts/{contact_id}", status_code=NO_CONTENT)
async def delete_contact(contact_id: Id, actor: AdminActor, conn: Transaction) -> None:
    """Remove a contact."""
    await contacts.delete_contact(conn, contact_id, actor=actor)


@router.post("/users", status_code=CREATED)
async def post_user(body: UserCreate, conn: Transaction) -> users.UserInfo:
    """Create a user (doctor, admin or family member); usernames ignore case and are unique."""
    return await users.create_user(conn, body)


@router.get("/users")
async def get_users(conn: Transaction) -> list[users.UserInfo]:
    """Every user, disabled ones included, by username."""
    return await users.list_users(conn)


@router.get("/users/{user_id}")
async def get_user(user_id: Id, conn: Transaction) -> users.UserInfo:
    """One user, with the communities and residents they were granted."""
    return await users.get_user(conn, user_id)


@router.patch("/users/{user_id}")
async def patch_user(user_id: Id, body: UserUpdate, conn: Transaction) -> users.UserInfo:
    """Change a user's fields that are sent; the others stay (a null password removes it)."""
    return await users.update_user(conn, user_id, body)


@router.post("/users/{user_id}/disable")
async def post_user_disable(user_id: Id, conn: Transaction) -> users.UserInfo:
    """Disable a user: none of their tokens is accepted any more; the record stays."""
    return await users.disable_user(conn, user_id)


@router.put("/users/{user_id}/communities/{community_id}")
async def put_user_community(user_id: Id, community_id: Id, conn: Transaction) -> users.UserInfo:
    """Let a doctor see the residents of a community (422 for a user who is not a doctor)."""
    return await users.grant_community(conn, user_id, community_id)


@router.delete("/users/{user_id}/communities/{community_id}", status_code=NO_CONTENT)
async def delete_user_community(user_id: Id, community_id: Id, conn: Transaction) -> None:
    """Stop a doctor seeing a community's residents."""
    await users.revoke_community(conn, user_id, community_id)


@router.put("/users/{user_id}/residents/{resident_id}")
async def put_user_resident(
    user_id: Id, resident_id: Id, actor: AdminActor, conn: Transaction
) -> users.UserInfo:
    """Let a family member see a resident (422 for a user who is not family)."""
    return await users.grant_resident(conn, user_id, resident_id, actor=actor)


@router.delete("/users/{user_id}/residents/{resident_id}", status_code=NO_CONTENT)
async def delete_user_resident(
    user_id: Id, resident_id: Id, actor: AdminActor, conn: Transaction
) -> None:
    """Stop a family member seeing a resident."""
    await users.revoke_resident(conn, user_id, resident_id, actor=actor)


@router.post("/users/{user_id}/tokens", status_code=CREATED)
async def post_user_token(user_id: Id, conn: Transaction) -> users.IssuedUserToken:
    """Issue an API token to a user; the token is in this answer only, never again."""
    return await users.create_user_token(conn, user_id)


@router.get("/users/{user_id}/tokens")
async def get_user_tokens(user_id: Id, conn: Transaction) -> list[users.UserToken]:
    """A user's tokens (without the tokens themselves), oldest first."""
    return await users.list_user_tokens(conn, user_id)


@router.post("/users/{user_id}/tokens/{token_id}/revoke")
async def post_user_token_revoke(user_id: Id, token_id: Id, conn: Transaction) -> users.UserToken:
    """Revoke one of a user's tokens: requests with it are refused (401) from now on."""
    return await users.revoke_user_token(conn, user_id, token_id)


@router.post("/gateways", status_code=CREATED)
async def post_gateway(body: GatewayCreate, conn: Transaction) -> IssuedGateway:
    """Register a home gateway; its token is in this answer only, never again."""
    gateway, token = await gateways.create_gateway(conn, body.name)
    return IssuedGateway(
        id=gateway.id, name=gateway.name, created_at=gateway.created_at, token=token
    )


@router.get("/gateways")
async def get_gateways(conn: Transaction) -> list[gateways.GatewayInfo]:
    """Every gateway, oldest first (never their tokens)."""
    return await gateways.list_gateways(conn)


@router.post("/gateways/{gateway_id}/revoke")
async def post_gateway_revoke(gateway_id: Id, conn: Transaction) -> gateways.GatewayInfo:
    """Revoke a gateway's token: its uploads are refused (401) from now on."""
    return await gateways.revoke_gateway(conn, gateway_id)


@router.get("/devices")
async def get_devices(conn: Transaction, unassigned_only: bool = False) -> list[devices.DeviceInfo]:
    """Every device; with unassigned_only, those with readings that belong to nobody yet."""
    return await devices.list_devices(conn, unassigned_only=unassigned_only)


@router.put("/devices/{serial}/users/{user_index}")
async def put_device_user(
    serial: DeviceSerial,
    user_index: UserIndex,
    body: DeviceAssignment,
    actor: AdminActor,
    conn: Transaction,
) -> devices.Assignment:
    """Give a device user's readings to a resident, including those waiting unassigned."""
    return await devices.assign_device(conn, serial, user_index, body.resident_id, actor=actor)


@router.delete("/devices/{serial}/users/{user_index}", status_code=NO_CONTENT)
async def delete_device_user(
    serial: DeviceSerial, user_index: UserIndex, actor: AdminActor, conn: Transaction
) -> None:
    """Keep a device user's new readings unassigned; stored ones keep their resident."""
    await devices.unassign_device(conn, serial, user_index, actor=actor)
