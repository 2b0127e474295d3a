"""The pages: sign-in, the doctor's Today, a resident, the community, the family view, the
audit trail. `make_router(store)` is what the service mounts."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException

from dashboards import figures
from dashboards.i18n import LANGUAGES
from dashboards.ports import PanelQuery, PanelSort, SignInRefused, Store
from dashboards.web import (
    LOGIN_CSRF_COOKIE,
    PLOTLY_JS,
    SESSION_COOKIE,
    STATIC_DIR,
    PageError,
    SignInNeeded,
    Web,
    check_csrf,
    client_of,
    gettext_for,
    new_login_csrf,
    render,
)

RANGES = (1, 7, 30, 90, 365)
_CONFIG = {"displaylogo": False, "responsive": True}


def _html(figure: Any) -> str:
    """A figure as a div for a page whose plotly.js is loaded once, from this service."""
    html: str = figure.to_html(full_html=False, include_plotlyjs=False, config=_CONFIG)
    return html


def make_router(store: Store, *, secure_cookies: bool = False) -> APIRouter:
    """The pages' routes, reading and changing data through `store`."""
    web = Web(store, secure_cookies)
    router = APIRouter(include_in_schema=False)
    _static_routes(router)
    _sign_in_routes(router, web)
    _doctor_routes(router, web)
    _resident_routes(router, web)
    _note_route(router, web)
    _family_routes(router, web)
    return router


def _static_routes(router: APIRouter) -> None:
    @router.get("/static/plotly.min.js")
    async def plotly_js() -> FileResponse:
        return FileResponse(PLOTLY_JS, headers={"Cache-Control": "public, max-age=86400"})

    @router.get("/static/linli.css")
    async def stylesheet() -> FileResponse:
        return FileResponse(STATIC_DIR / "linli.css", headers={"Cache-Control": "no-cache"})


def _sign_in_routes(router: APIRouter, web: Web) -> None:
    @router.get("/login")
    async def login_page(request: Request, error: str | None = None) -> HTMLResponse:
        token = new_login_csrf()
        response = render(request, "login.html", None, form_csrf=token, error=error)
        response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict")
        return response

    @router.post("/login")
    async def login(
        request: Request,
        username: Annotated[str, Form(max_length=64)],
        password: Annotated[str, Form(max_length=200)],
        csrf: Annotated[str, Form(max_length=100)] = "",
    ) -> Response:
        check_csrf(request.cookies.get(LOGIN_CSRF_COOKIE, ""), csrf)
        try:
            token = await web.store.sign_in(username, password, client_of(request))
        except SignInRefused as refused:
            reason = "locked" if refused.locked else "wrong"
            return RedirectResponse(f"/login?error={reason}", status_code=303)
        response = RedirectResponse("/", status_code=303)
        web.set_session_cookie(response, token)
        response.delete_cookie(LOGIN_CSRF_COOKIE)
        return response

    @router.post("/logout")
    async def logout(request: Request, csrf: Annotated[str, Form()] = "") -> Response:
        session = await web.session(request)
        check_csrf(session.csrf_token, csrf)
        await web.store.sign_out(request.cookies.get(SESSION_COOKIE, ""))
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE)
        return response

    @router.post("/language")
    async def language(
        request: Request,
        language: Annotated[str, Form()],
        csrf: Annotated[str, Form()] = "",
        back: Annotated[str, Form()] = "/",
    ) -> Response:
        session = await web.session(request)
        check_csrf(session.csrf_token, csrf)
        if language not in LANGUAGES:
            raise PageError(404, "No such language.")
        await web.store.set_language(session.viewer, language)
        target = back if back.startswith("/") and not back.startswith("//") else "/"
        return RedirectResponse(target, status_code=303)

    @router.get("/")
    async def home(request: Request) -> Response:
        session = await web.session(request)
        return RedirectResponse(
            "/family" if session.viewer.role == "family" else "/today", status_code=303
        )


def _doctor_routes(router: APIRouter, web: Web) -> None:
    @router.get("/today")
    async def today(request: Request) -> HTMLResponse:
        session = await web.session(request)
        if session.viewer.role == "family":
            raise PageError(404, "Not found.")
        data = await web.store.today(session.viewer)
        return render(request, "today.html", session, today=data)

    @router.post("/alerts/{alert_id}/{action}")
    async def act(
        request: Request,
        alert_id: int,
        action: Literal["acknowledge", "resolve"],
        csrf: Annotated[str, Form()] = "",
        note: Annotated[str, Form(max_length=2000)] = "",
        back: Annotated[str, Form()] = "/today",
    ) -> Response:
        session = await web.session(request)
        check_csrf(session.csrf_token, csrf)
        if not await web.store.act_on_alert(session.viewer, alert_id, action, note.strip()):
            raise PageError(404, "No such open alert.")
        target = back if back.startswith("/") and not back.startswith("//") else "/today"
        return RedirectResponse(target, status_code=303)

    @router.get("/community")
    async def community(
        request: Request, community: Annotated[int | None, Query()] = None
    ) -> HTMLResponse:
        session = await web.session(request)
        view = None
        if session.viewer.role != "family":
            view = await web.store.community(session.viewer, community)
        if view is None:
            raise PageError(404, "Not found.")
        _ = gettext_for(request, session)
        charts = {
            "trend": _html(figures.control_trend_figure(view.months, gettext=_)),
            "places": _html(figures.control_compare_figure(view.places, gettext=_)),
            "alerts": _html(figures.alerts_per_week_figure(view.alerts_per_week, gettext=_)),
        }
        return render(
            request, "community.html", session, view=view, charts=charts, selected=community
        )

    @router.get("/panel")
    async def panel(
        request: Request,
        community: Annotated[int | None, Query()] = None,
        grid: Annotated[int | None, Query()] = None,
        condition: Annotated[Literal["hypertension", "diabetes"] | None, Query()] = None,
        status: Annotated[
            Literal["uncontrolled", "alerts", "not_measuring"] | None, Query()
        ] = None,
        sort: Annotated[PanelSort, Query()] = "alerts",
        page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    ) -> HTMLResponse:
        session = await web.session(request)
        if session.viewer.role == "family":
            raise PageError(404, "Not found.")
        query = PanelQuery(community, grid, condition, status, sort, page)
        view = await web.store.panel(session.viewer, query)
        pages = max(1, -(-view.total // query.per_page))
        return render(
            request,
            "panel.html",
            session,
            view=view,
            pages=pages,
            sparkline=figures.sparkline_points,
            params=request.query_params,
        )

    @router.get("/audit")
    async def audit(request: Request) -> HTMLResponse:
        session = await web.session(request)
        if session.viewer.role != "admin":
            raise PageError(404, "Not found.")
        rows = await web.store.audit(session.viewer, 500)
        return render(request, "audit.html", session, rows=rows)


def _resident_routes(router: APIRouter, web: Web) -> None:
    @router.get("/residents/{resident_id}")
    async def resident(
        request: Request, resident_id: int, days: Annotated[int, Query()] = 7
    ) -> HTMLResponse:
        session = await web.session(request)
        days = min(RANGES, key=lambda r: abs(r - days))  # any number: the nearest range
        view = await web.store.resident(session.viewer, resident_id, days, client_of(request))
        if view is None:
            raise PageError(404, "Not found.")
        _ = gettext_for(request, session)
        if view.bp_days:
            bp = figures.bp_daily_figure(view.bp_days, target=view.target, gettext=_)
        else:
            bp = figures.bp_figure(view.bp, target=view.target, zone=view.time_zone, gettext=_)
        charts = {
            "bp": _html(bp),
            "glucose": _html(figures.glucose_figure(view.glucose, zone=view.time_zone, gettext=_)),
        }
        in_range = figures.share_in_range(view.glucose)
        return render(
            request,
            "resident.html",
            session,
            view=view,
            charts=charts,
            days=days,
            ranges=RANGES,
            in_range=in_range,
        )


def _note_route(router: APIRouter, web: Web) -> None:
    @router.post("/residents/{resident_id}/notes")
    async def add_note(
        request: Request,
        resident_id: int,
        text: Annotated[str, Form(min_length=1, max_length=2000)],
        csrf: Annotated[str, Form()] = "",
    ) -> Response:
        session = await web.session(request)
        check_csrf(session.csrf_token, csrf)
        if not text.strip() or not await web.store.add_note(
            session.viewer, resident_id, text.strip()
        ):
            raise PageError(404, "Not found.")
        return RedirectResponse(f"/residents/{resident_id}#notes", status_code=303)


def _family_routes(router: APIRouter, web: Web) -> None:
    @router.get("/family")
    async def family(request: Request) -> HTMLResponse:
        session = await web.session(request)
        relatives = await web.store.family(session.viewer, client_of(request))
        _ = gettext_for(request, session)
        charts = {
            r.resident_id: _html(
                figures.bp_figure(r.bp, target=r.target, zone=r.time_zone, gettext=_)
            )
            for r in relatives
        }
        return render(request, "family.html", session, relatives=relatives, charts=charts)


async def page_error(request: Request, error: Exception) -> Response:
    """PageError and SignInNeeded as pages (the service registers this handler)."""
    if isinstance(error, SignInNeeded):
        if request.method == "GET":
            return RedirectResponse("/login", status_code=303)
        raise HTTPException(403, "Sign in first.")
    assert isinstance(error, PageError)
    session = getattr(request.state, "session", None)
    return render(request, "error.html", session, status=error.status, message=error.message)
