"""The routes of the access matrix (test_access_matrix.py): each with who may call it, what
the call carries, and what an allowed answer must show."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.factories import blood_pressure
from tests.service.access_world import (
    ADMIN,
    FAMILY,
    GATEWAY,
    LANGUAGES,
    PEOPLE,
    SEES,
    STAFF,
    World,
)

Rule = Callable[[str, str], bool]


def public(role: str, target: str) -> bool:
    return True


def gateway_only(role: str, target: str) -> bool:
    return role == GATEWAY


def any_person(role: str, target: str) -> bool:
    return role in PEOPLE


def sees(role: str, target: str) -> bool:
    return target in SEES[role]


def staff(role: str, target: str) -> bool:
    return role in STAFF


def staff_sees(role: str, target: str) -> bool:
    return role in STAFF and target in SEES[role]


def admin_only(role: str, target: str) -> bool:
    return role == ADMIN


def twilio_signed(role: str, target: str) -> bool:
    return False  # only Twilio's signature opens these, never a token or a cookie


Params = dict[str, Any]


@dataclass(frozen=True)
class Case:
    """One route: who may call it, with what, and what an allowed answer shows."""

    method: str
    path: str
    rule: Rule
    targets: tuple[str, ...] = ("A",)
    page: bool = False
    extra: Params = field(default_factory=dict)  # more path parameters
    query: Callable[[World, str], Params] | None = None
    json: Callable[[World], Any] | None = None
    form: Callable[[World, str], Params] | None = None  # (world, role)
    fresh: Callable[[World, str], Params] | None = None  # rows for an allowed change
    ok: tuple[int, ...] = (200,)
    shows: Callable[[str, str], set[str]] | None = None  # residents an allowed answer names
    mount: str | None = None  # the Mount this path lies under

    @property
    def route(self) -> tuple[str, str]:
        return ("MOUNT", self.mount) if self.mount else (self.method, self.path)


def reading(world: World) -> Any:
    minutes = next(world.serials)
    return {"readings": [blood_pressure("BP-GW-A", minutes=minutes)]}


def named(prefix: str, **body: Any) -> Callable[[World], Any]:
    return lambda world: {**body, "name": world.unique(prefix)}


def visible(role: str, target: str) -> set[str]:
    return SEES[role]


def visible_in_target_community(role: str, target: str) -> set[str]:
    return SEES[role] & ({"A", "N"} if target == "A" else {"B"})


def relatives(role: str, target: str) -> set[str]:
    return SEES[role] if role == FAMILY else set()


def twilio_form(world: World, role: str) -> Params:
    return {"MessageSid": "SM-matrix", "MessageStatus": "delivered", "From": "+8613800138001"}


def page_form(**fields: Any) -> Callable[[World, str], Params]:
    return lambda world, role: dict(fields)


BOTH = ("A", "B")
RESIDENT = {"name": "临时居民", "sex": "female", "birth_date": "1944-03-02"}

CASES: tuple[Case, ...] = (
    # Operations and documentation: for anyone (/metrics is kept from the internet by the
    # reverse proxy, README "Production").
    Case("GET", "/health", public),
    Case("GET", "/ready", public),
    Case("GET", "/metrics", public),
    Case("GET", "/openapi.json", public),
    Case("GET", "/docs", public),
    Case("GET", "/docs/oauth2-redirect", public),
    Case("GET", "/redoc", public),
    Case("GET", "/static-offline-docs/swagger-ui.css", public, mount="/static-offline-docs"),
    # The gateway's uploads.
    Case("POST", "/v1/readings", gateway_only, json=reading),
    Case("POST", "/v1/heartbeat", gateway_only, ok=(204,)),
    # Reading a resident: whoever may see them.
    Case(
        "GET",
        "/v1/residents/{resident_id}/readings",
        sees,
        BOTH,
        query=lambda w, t: {"kind": "blood_pressure"},
    ),
    Case(
        "GET",
        "/v1/residents/{resident_id}/daily",
        sees,
        BOTH,
        query=lambda w, t: {"kind": "blood_pressure"},
    ),
    Case("GET", "/v1/residents/{resident_id}/alerts", sees, BOTH),
    Case("GET", "/v1/residents/{resident_id}/findings", sees, BOTH),
    Case("GET", "/v1/alerts", any_person, shows=visible),
    Case("GET", "/v1/alerting/gaps", any_person),
    Case(
        "POST",
        "/v1/alerts/{alert_id}/acknowledge",
        sees,
        BOTH,
        fresh=World.alert,
        ok=(204,),
    ),
    Case("GET", "/v1/alerts/{alert_id}/messages", sees, BOTH),
    Case(
        "GET",
        "/v1/readings/unassigned",
        admin_only,
        query=lambda w, t: {"kind": "blood_pressure"},
    ),
    # Twilio's callbacks: its signature only.
    Case("POST", "/v1/twilio/status", twilio_signed, form=twilio_form),
    Case("POST", "/v1/twilio/inbound", twilio_signed, form=twilio_form),
    Case(
        "POST",
        "/v1/twilio/voice",
        twilio_signed,
        form=lambda w, r: {"Digits": "1"},
        query=lambda w, t: {"notification": 1},
    ),
    # The admin API.
    Case("POST", "/v1/admin/communities", admin_only, json=named("社区"), ok=(201,)),
    Case("GET", "/v1/admin/communities", admin_only),
    Case("GET", "/v1/admin/communities/{community_id}", admin_only),
    Case(
        "PATCH",
        "/v1/admin/communities/{community_id}",
        admin_only,
        json=lambda w: {"name_en": "Dunren"},
    ),
    Case(
        "DELETE",
        "/v1/admin/communities/{community_id}",
        admin_only,
        fresh=lambda w, t: w.community(),
        ok=(204,),
    ),
    Case(
        "POST",
        "/v1/admin/communities/{community_id}/grids",
        admin_only,
        json=named("网格"),
        ok=(201,),
    ),
    Case("GET", "/v1/admin/communities/{community_id}/grids", admin_only),
    Case("GET", "/v1/admin/grids/{grid_id}", admin_only),
    Case("PATCH", "/v1/admin/grids/{grid_id}", admin_only, json=named("网格")),
    Case(
        "DELETE",
        "/v1/admin/grids/{grid_id}",
        admin_only,
        fresh=lambda w, t: w.grid(),
        ok=(204,),
    ),
    Case(
        "POST",
        "/v1/admin/residents",
        admin_only,
        json=lambda w: {**RESIDENT, "community_id": w.community_of["A"]},
        ok=(201,),
    ),
    Case("GET", "/v1/admin/residents", admin_only),
    Case("GET", "/v1/admin/residents/{resident_id}", admin_only),
    Case(
        "GET",
        "/v1/admin/residents/{resident_id}/export",
        admin_only,
        shows=lambda role, target: {target},
    ),
    Case("GET", "/v1/admin/audit", admin_only),
    Case(
        "PATCH",
        "/v1/admin/residents/{resident_id}",
        admin_only,
        json=lambda w: {"language": "zh-CN"},
    ),
    Case(
        "DELETE",
        "/v1/admin/residents/{resident_id}",
        admin_only,
        fresh=lambda w, t: w.resident(),
        ok=(204,),
    ),
    Case(
        "POST",
        "/v1/admin/residents/{resident_id}/contacts",
        admin_only,
        json=lambda w: {"name": "王明", "kind": "family", "phone": "+8613800138000"},
        ok=(201,),
    ),
    Case("GET", "/v1/admin/residents/{resident_id}/contacts", admin_only),
    Case("GET", "/v1/admin/contacts/{contact_id}", admin_only),
    Case(
        "PATCH",
        "/v1/admin/contacts/{contact_id}",
        admin_only,
        json=lambda w: {"relationship": "女儿"},
    ),
    Case(
        "DELETE",
        "/v1/admin/contacts/{contact_id}",
        admin_only,
        fresh=lambda w, t: w.contact(),
        ok=(204,),
    ),
    Case(
        "POST",
        "/v1/admin/users",
        admin_only,
        json=lambda w: {"username": w.unique("new"), "display_name": "新", "role": "family"},
        ok=(201,),
    ),
    Case("GET", "/v1/admin/users", admin_only),
    Case("GET", "/v1/admin/users/{user_id}", admin_only),
    Case(
        "PATCH",
        "/v1/admin/users/{user_id}",
        admin_only,
        json=lambda w: {"display_name": "王小红"},
    ),
    Case(
        "POST",
        "/v1/admin/users/{user_id}/disable",
        admin_only,
        fresh=lambda w, t: w.user(),
    ),
    Case(
        "PUT",
        "/v1/admin/users/{user_id}/communities/{community_id}",
        admin_only,
        fresh=lambda w, t: w.user("doctor") | {"community_id": w.community_of["A"]},
    ),
    Case(
        "DELETE",
        "/v1/admin/users/{user_id}/communities/{community_id}",
        admin_only,
        fresh=lambda w, t: w.doctor_of_a(),
        ok=(204,),
    ),
    Case(
        "PUT",
        "/v1/admin/users/{user_id}/residents/{resident_id}",
        admin_only,
        fresh=lambda w, t: w.user("family") | {"resident_id": w.standing["A"]["resident_id"]},
    ),
    Case(
        "DELETE",
        "/v1/admin/users/{user_id}/residents/{resident_id}",
        admin_only,
        fresh=lambda w, t: w.relative_of_a(),
        ok=(204,),
    ),
    Case(
        "POST",
        "/v1/admin/users/{user_id}/tokens",
        admin_only,
        fresh=lambda w, t: w.user(),
        ok=(201,),
    ),
    Case("GET", "/v1/admin/users/{user_id}/tokens", admin_only),
    Case(
        "POST",
        "/v1/admin/users/{user_id}/tokens/{token_id}/revoke",
        admin_only,
        fresh=lambda w, t: w.user_token(),
    ),
    Case("POST", "/v1/admin/gateways", admin_only, json=named("网关"), ok=(201,)),
    Case("GET", "/v1/admin/gateways", admin_only),
    Case(
        "POST",
        "/v1/admin/gateways/{gateway_id}/revoke",
        admin_only,
        fresh=lambda w, t: w.gateway(),
    ),
    Case("GET", "/v1/admin/devices", admin_only),
    Case(
        "PUT",
        "/v1/admin/devices/{serial}/users/{user_index}",
        admin_only,
        json=lambda w: {"resident_id": w.standing["A"]["resident_id"]},
        fresh=lambda w, t: w.device(),
    ),
    Case(
        "DELETE",
        "/v1/admin/devices/{serial}/users/{user_index}",
        admin_only,
        fresh=lambda w, t: w.assigned_device(),
        ok=(204,),
    ),
    # The pages.
    Case("GET", "/static/plotly.min.js", public, page=True),
    Case("GET", "/static/linli.css", public, page=True),
    Case("GET", "/login", public, page=True),
    Case("POST", "/login", public, page=True, ok=(303,)),  # the sign-in itself, see `call`
    Case("POST", "/logout", any_person, page=True, ok=(303,)),  # a fresh session, see `call`
    Case(
        "POST",
        "/language",
        any_person,
        page=True,
        form=lambda w, role: {"language": LANGUAGES.get(role, "en"), "back": "/"},
        ok=(303,),
    ),
    Case("GET", "/", any_person, page=True, ok=(303,)),
    Case("GET", "/today", staff, page=True, shows=visible),
    Case(
        "POST",
        "/alerts/{alert_id}/{action}",
        staff_sees,
        BOTH,
        page=True,
        extra={"action": "acknowledge"},
        fresh=World.alert,
        ok=(303,),
    ),
    Case(
        "POST",
        "/alerts/{alert_id}/{action}",
        staff_sees,
        BOTH,
        page=True,
        extra={"action": "resolve"},
        form=page_form(note="已电话联系"),
        fresh=World.alert,
        ok=(303,),
    ),
    Case("GET", "/community", staff, page=True),
    Case(
        "GET",
        "/community",
        staff_sees,
        BOTH,
        page=True,
        query=lambda w, t: {"community": w.community_of[t]},
    ),
    Case("GET", "/panel", staff, page=True, shows=visible),
    Case(
        "GET",
        "/panel",
        staff,
        BOTH,
        page=True,
        query=lambda w, t: {"community": w.community_of[t]},
        shows=visible_in_target_community,
    ),
    Case("GET", "/audit", admin_only, page=True),
    Case("GET", "/residents/{resident_id}", sees, BOTH, page=True, shows=lambda r, t: {t}),
    Case(
        "POST",
        "/residents/{resident_id}/notes",
        staff_sees,
        BOTH,
        page=True,
        form=page_form(text="建议下周复查"),
        ok=(303,),
    ),
    Case("GET", "/family", any_person, page=True, shows=relatives),
)
