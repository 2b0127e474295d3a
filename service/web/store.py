"""The `dashboards.ports.Store` the service hands to the pages: each call one transaction on
the service's pool."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from psycopg_pool import AsyncConnectionPool

from dashboards.ports import (
    AuditRow,
    CommunityView,
    FamilyView,
    PanelQuery,
    PanelView,
    ResidentView,
    Session,
    Today,
    Viewer,
)
from service.web import community, panel, resident, sessions, views


class WebStore:
    """What the pages read and change, on the service's database."""

    def __init__(self, pool_of: Callable[[], AsyncConnectionPool]) -> None:
        self._pool_of = pool_of  # the pool opens with the app, after the routes are made

    @property
    def pool(self) -> AsyncConnectionPool:
        """The service's connection pool."""
        return self._pool_of()

    async def sign_in(self, username: str, password: str, client: str | None) -> str:
        """A new session token; SignInRefused otherwise (the failure is still recorded)."""
        async with self.pool.connection() as conn:
            # Autocommit: a refused sign-in must leave its failure behind.
            await conn.set_autocommit(True)
            try:
                return await sessions.sign_in(conn, username, password, client)
            finally:
                await conn.set_autocommit(False)

    async def session(self, token: str) -> Session | None:
        """The live session of a token."""
        async with self.pool.connection() as conn:
            return await sessions.session(conn, token)

    async def sign_out(self, token: str) -> None:
        """End the session."""
        async with self.pool.connection() as conn:
            await sessions.sign_out(conn, token)

    async def set_language(self, viewer: Viewer, language: str) -> None:
        """Remember the viewer's language."""
        async with self.pool.connection() as conn:
            await sessions.set_language(conn, viewer.id, language)

    async def today(self, viewer: Viewer) -> Today:
        """The doctor's open alerts and residents to follow up."""
        async with self.pool.connection() as conn:
            return await views.today(conn, viewer)

    async def act_on_alert(
        self, viewer: Viewer, alert_id: int, action: Literal["acknowledge", "resolve"], note: str
    ) -> bool:
        """Acknowledge or resolve an alert the viewer may see."""
        async with self.pool.connection() as conn, conn.transaction():
            return await views.act_on_alert(conn, viewer, alert_id, action, note)

    async def add_note(self, viewer: Viewer, resident_id: int, text: str) -> bool:
        """A doctor's note on a resident they serve."""
        async with self.pool.connection() as conn, conn.transaction():
            return await views.add_note(conn, viewer, resident_id, text)

    async def resident(
        self, viewer: Viewer, resident_id: int, days: int, client: str | None
    ) -> ResidentView | None:
        """A resident the viewer may see, audited."""
        async with self.pool.connection() as conn, conn.transaction():
            return await resident.resident_view(conn, viewer, resident_id, days, client)

    async def community(self, viewer: Viewer, community_id: int | None) -> CommunityView | None:
        """Control rates of the viewer's communities."""
        async with self.pool.connection() as conn:
            return await community.community_view(conn, viewer, community_id)

    async def family(self, viewer: Viewer, client: str | None) -> list[FamilyView]:
        """The viewer's relatives, audited."""
        async with self.pool.connection() as conn, conn.transaction():
            return await resident.family_views(conn, viewer, client)

    async def panel(self, viewer: Viewer, query: PanelQuery) -> PanelView:
        """A page of the viewer's residents."""
        async with self.pool.connection() as conn:
            return await panel.panel(conn, viewer, query)

    async def audit(self, viewer: Viewer, limit: int) -> list[AuditRow]:
        """The newest audit entries, for admins."""
        if viewer.role != "admin":
            return []
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                # The action with the names of the fields it changed, if any; an erased
                # resident has no row any more, only a number.
                """SELECT l.at, u.display_name,
                          l.action || coalesce(' (' || (
                              SELECT string_agg(f, ', ')
                              FROM jsonb_array_elements_text(l.detail -> 'fields') f) || ')',
                              ''),
                          l.resident_id, r.name, l.client
                   FROM audit_log l LEFT JOIN users u ON u.id = l.user_id
                   LEFT JOIN residents r ON r.id = l.resident_id
                   ORDER BY l.id DESC LIMIT %s""",
                (limit,),
            )
            return [AuditRow(*row) for row in await cur.fetchall()]
