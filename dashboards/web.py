"""The plumbing of the pages: templates, sessions in an HttpOnly cookie, CSRF checks, the
language, and plotly.js served from the installed plotly package (no CDN, no internet).
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import plotly
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, PackageLoader, select_autoescape

from dashboards import words
from dashboards.i18n import choose_language, translations
from dashboards.ports import Session, Store

SESSION_COOKIE = "linli_session"
LOGIN_CSRF_COOKIE = "linli_login_csrf"
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
STATIC_DIR = Path(__file__).with_name("static")

_templates = Environment(
    loader=PackageLoader("dashboards", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


class PageError(Exception):
    """A page that cannot be shown: 403 (a tampered form) or 404 (nothing the viewer may see)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class SignInNeeded(Exception):
    """No valid session: the browser goes to the sign-in page."""


@dataclass(frozen=True)
class Web:
    """What the page handlers share: the store, and whether cookies need HTTPS."""

    store: Store
    secure_cookies: bool = False

    async def session(self, request: Request) -> Session:
        """The request's session; SignInNeeded without one."""
        token = request.cookies.get(SESSION_COOKIE)
        session = await self.store.session(token) if token else None
        if session is None:
            raise SignInNeeded
        request.state.session = session  # an error page keeps the viewer's header
        return session

    def set_session_cookie(self, response: RedirectResponse, token: str) -> None:
        """Keep the session in an HttpOnly, SameSite cookie (Secure behind HTTPS)."""
        response.set_cookie(
            SESSION_COOKIE,
            token,
            httponly=True,
            samesite="lax",
            secure=self.secure_cookies,
            max_age=12 * 3600,
        )


LOCAL_ZONE = "Asia/Shanghai"  # the pages show the community's clock


def when(at: datetime | None, seconds: bool = False) -> str:
    """A time as the community's clock shows it."""
    if at is None:
        return ""
    local = at.astimezone(ZoneInfo(LOCAL_ZONE)) if at.tzinfo else at
    return local.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def render(
    request: Request, template: str, session: Session | None, status: int = 200, **context: Any
) -> HTMLResponse:
    """A page in the viewer's language (their own, else the browser's)."""
    language = language_of(request, session)
    html = _templates.get_template(template).render(
        _=translations(language).gettext,
        language=language,
        session=session,
        viewer=session.viewer if session else None,
        csrf=session.csrf_token if session else "",
        words=words,
        when=when,
        path=request.url.path,
        query=request.url.query,
        **context,
    )
    return HTMLResponse(html, status_code=status)


def check_csrf(expected: str, given: str | None) -> None:
    """A form changes something only with its session's token (403 otherwise)."""
    if not given or not hmac.compare_digest(expected.encode(), given.encode()):
        raise PageError(403, "This form has expired or was not sent by Linli.")


def new_login_csrf() -> str:
    """A token for the sign-in form, checked against its cookie (double submit)."""
    return secrets.token_urlsafe(24)


def language_of(request: Request, session: Session | None) -> str:
    """The page's language: the viewer's own, else the browser's."""
    preferred = session.viewer.language if session else None
    return choose_language(preferred, request.headers.get("accept-language"))


def gettext_for(request: Request, session: Session | None) -> Callable[[str], str]:
    """The gettext of the page's language (for figures)."""
    return translations(language_of(request, session)).gettext


def client_of(request: Request) -> str | None:
    """Where a request came from, for the audit trail."""
    return request.client.host if request.client else None
