"""Who may use which route: every route of the app against every kind of caller.

The callers: nobody, a home gateway, a daughter who may see only her mother (resident A), the
doctor of another community (resident B's), the doctor of A's community, an admin. On the API
they carry their bearer tokens; on the pages the people sign in through /login and carry the
session cookie, and a gateway's token there counts as nobody. Each route says who may use it.
Allowed calls must succeed, and their answers name no resident the caller may not see; every
other call is refused (401, 403 or 404 on the API; on the pages the sign-in redirect, 403 for
a form, or 404) and leaves every table as it was.

The routes come from the app itself: a route added later that this table does not classify
fails the test, by name.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from pydantic import SecretStr
from starlette.routing import Mount
from twilio.request_validator import RequestValidator

from service.app import create_app
from tests.conftest import LiveServer, free_port
from tests.dashboards.clinic import PASSWORD
from tests.dashboards.test_pages import form_token
from tests.effort import record
from tests.factories import auth, blood_pressure, new_gateway
from tests.service.access_cases import CASES, Case, admin_only, gateway_only, twilio_signed
from tests.service.access_world import (
    ANONYMOUS,
    GATEWAY,
    NAMES,
    PEOPLE,
    ROLES,
    SEES,
    USERNAMES,
    Snapshot,
    World,
    changed,
    open_world,
)

TWILIO_TOKEN = "matrix-twilio-auth-token"


def app_routes(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path) of every route the app serves; ("MOUNT", path) for mounted apps."""
    found = set()
    for route in iter_route_contexts(app.routes):
        if isinstance(route.original_route, Mount):
            found.add(("MOUNT", str(route.path)))
            continue
        for method in route.methods or ():
            if method != "HEAD":
                found.add((method, str(route.path)))
    return found


class Matrix:
    """The callers and how each calls a route; the problems found."""

    def __init__(self, url: str, world: World) -> None:
        self.url = url
        self.world = world
        self.snapshot = Snapshot(world.db)
        self.problems: list[str] = []
        self.cells = 0
        self.api = httpx.Client(base_url=url, timeout=30)
        self.headers = {ANONYMOUS: {}, GATEWAY: auth(world.gateway_token)} | {
            role: auth(token) for role, token in world.user_tokens.items()
        }
        self.leavers: list[httpx.Client] = []  # browsers signed in to sign out
        self.browsers: dict[str, tuple[httpx.Client, str]] = {
            ANONYMOUS: (httpx.Client(base_url=url, timeout=30), ""),
            GATEWAY: (httpx.Client(base_url=url, timeout=30, headers=self.headers[GATEWAY]), ""),
        }
        for role in PEOPLE:
            self.browsers[role] = self.sign_in(role)

    def close(self) -> None:
        self.api.close()
        for browser, _ in self.browsers.values():
            browser.close()
        for browser in self.leavers:
            browser.close()

    def sign_in(self, role: str) -> tuple[httpx.Client, str]:
        """A browser signed in as the role's person, and its session's form token."""
        browser = httpx.Client(base_url=self.url, timeout=30)
        page = browser.get("/login")
        answer = browser.post(
            "/login",
            data={"username": USERNAMES[role], "password": PASSWORD, "csrf": form_token(page.text)},
        )
        assert answer.status_code == 303, answer.text
        assert answer.headers["location"] == "/"
        home = browser.get("/", follow_redirects=True)
        return browser, form_token(home.text)

    def call(self, case: Case, role: str, target: str, allowed: bool) -> httpx.Response | None:
        """The role's call, or None (a problem noted) when the server did not answer."""
        try:
            return self._call(case, role, target, allowed)
        except httpx.TransportError as exc:
            self.problems.append(f"{self.where(case, role, target)}: no answer ({exc!r})")
            return None

    def _call(self, case: Case, role: str, target: str, allowed: bool) -> httpx.Response:
        world = self.world
        params = world.standing[target] | case.extra
        if allowed and case.fresh is not None:
            params = params | case.fresh(world, target)
        path = case.path.format(**params)
        query = case.query(world, target) if case.query else None
        if case.route == ("POST", "/login"):
            return self.login(role)
        if case.page:
            browser, csrf = self.browsers[role]
            if allowed and case.route == ("POST", "/logout"):
                browser, csrf = self.sign_in(role)  # its own session: the role's stays
                self.leavers.append(browser)
            form = {"csrf": csrf} | (case.form(world, role) if case.form else {})
            data = form if case.method == "POST" else None
            return browser.request(case.method, path, params=query, data=data)
        if case.form is not None:  # Twilio's callbacks
            return self.api.request(
                case.method,
                path,
                params=query,
                data=case.form(world, role),
                headers=self.headers[role],
            )
        body = case.json(world) if case.json else None
        return self.api.request(
            case.method, path, params=query, json=body, headers=self.headers[role]
        )

    def login(self, role: str) -> httpx.Response:
        """Signing in: anyone may, with the right name and password."""
        with httpx.Client(base_url=self.url, timeout=30, headers=self.headers[role]) as browser:
            page = browser.get("/login")
            return browser.post(
                "/login",
                data={"username": "xiaohong", "password": PASSWORD, "csrf": form_token(page.text)},
            )

    def run(self, case: Case) -> None:
        """Refused calls first (nothing may change), then the allowed ones."""
        cells = [(role, target) for target in case.targets for role in ROLES]
        refused = [cell for cell in cells if not case.rule(*cell)]
        before = self.snapshot.take()
        for role, target in refused:
            response = self.call(case, role, target, allowed=False)
            if response is not None:
                self.check_refused(case, role, target, response)
            if case.method != "GET":
                self.check_unchanged(case, role, target, before)
        if case.method == "GET":
            self.check_unchanged(case, "any refused caller", "", before)
        for role, target in cells:
            if case.rule(role, target):
                response = self.call(case, role, target, allowed=True)
                if response is not None:
                    self.check_allowed(case, role, target, response)
        self.cells += len(cells)

    def where(self, case: Case, role: str, target: str) -> str:
        on = f" on {target}'s rows" if len(case.targets) > 1 else ""
        return f"{case.method} {case.path}{on} by {role}"

    def check_refused(self, case: Case, role: str, target: str, response: httpx.Response) -> None:
        expected = refusal(case, role)
        if response.status_code != expected:
            self.problems.append(
                f"{self.where(case, role, target)}: {response.status_code}, expected"
                f" {expected}: {response.text[:200]}"
            )
        elif expected == 303 and response.headers.get("location") != "/login":
            self.problems.append(f"{self.where(case, role, target)}: not sent to /login")
        elif not case.page and "detail" not in response.json():
            self.problems.append(f"{self.where(case, role, target)}: refused without a reason")

    def check_unchanged(self, case: Case, role: str, target: str, before: dict[str, str]) -> None:
        tables = changed(before, self.snapshot.take())
        if tables:
            self.problems.append(f"{self.where(case, role, target)}: refused but changed {tables}")

    def check_allowed(self, case: Case, role: str, target: str, response: httpx.Response) -> None:
        where = self.where(case, role, target)
        if response.status_code not in case.ok:
            self.problems.append(
                f"{where}: {response.status_code}, expected {case.ok}: {response.text[:300]}"
            )
            return
        json_type = response.headers.get("content-type", "").startswith("application/json")
        if json_type and response.content:
            response.json()  # a valid body
        text = response.text
        leaked = {label for label in NAMES if label not in SEES[role] and NAMES[label] in text}
        if leaked:
            self.problems.append(f"{where}: names residents it may not see: {sorted(leaked)}")
        if case.shows is not None:
            missing = {label for label in case.shows(role, target) if NAMES[label] not in text}
            if missing:
                self.problems.append(f"{where}: does not show {sorted(missing)}")


def refusal(case: Case, role: str) -> int:
    """The answer a refused call gets."""
    if case.rule is twilio_signed:
        return 403  # no valid X-Twilio-Signature
    if case.page:
        if role not in PEOPLE:
            return 303 if case.method == "GET" else 403  # to sign in; a form: 403
        return 404  # nothing there the viewer may see
    if role in (ANONYMOUS, GATEWAY) or case.rule is gateway_only:
        return 401  # no token, or not the kind the route takes
    if case.rule is admin_only:
        return 403
    return 404  # a resident (or their alert) the caller may not see does not exist


@pytest.fixture
def matrix(settings, db, database_url) -> Iterator[Matrix]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    ours = settings.model_copy(
        update={
            "run_worker": False,
            "twilio_auth_token": SecretStr(TWILIO_TOKEN),
            "public_url": url,
        }
    )
    world = open_world(db, database_url)
    with LiveServer(ours, port):
        table = Matrix(url, world)
        try:
            yield table
        finally:
            table.close()


def test_every_route_is_in_the_matrix(settings):
    served = app_routes(create_app(settings))
    classified = {case.route for case in CASES}
    unclassified = sorted(served - classified)
    assert not unclassified, (
        f"routes nobody classified in tests/service/test_access_matrix.py CASES: {unclassified};"
        " add each with who may call it"
    )
    gone = sorted(classified - served)
    assert not gone, f"CASES names routes the app no longer serves: {gone}"


def test_every_caller_on_every_route_gets_only_what_they_may(matrix, db):
    for case in CASES:
        matrix.run(case)
    record("test_access_matrix", "cells checked", matrix.cells)
    assert not matrix.problems, "\n".join(matrix.problems)
    twilio_callbacks_open_with_its_signature(matrix, db)


def twilio_callbacks_open_with_its_signature(table: Matrix, db: Any) -> None:
    """What no token or cookie opens, Twilio's signature does (and a forged one does not)."""
    alert_id = table.world.standing["A"]["alert_id"]
    sms = db.execute(
        """INSERT INTO notifications (alert_id, resident_id, purpose, severity, contact_id,
                                      channel, address, language, body, due_at, status,
                                      provider, provider_id)
           SELECT a.id, a.resident_id, 'alert', 'urgent', c.id, 'sms', c.phone, 'zh-CN', 'x',
                  now(), 'sent', 'twilio', 'SM-signed'
           FROM alerts a JOIN contacts c ON c.resident_id = a.resident_id
           WHERE a.id = %s ORDER BY c.id LIMIT 1 RETURNING id""",
        (alert_id,),
    ).fetchone()
    assert sms is not None
    url = f"{table.url}/v1/twilio/status?notification={sms[0]}"
    form = {"MessageSid": "SM-signed", "MessageStatus": "delivered"}
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(url, form)
    answer = table.api.post(url, data=form, headers={"X-Twilio-Signature": signature})
    assert answer.status_code == 204, answer.text
    forged = table.api.post(url, data=form, headers={"X-Twilio-Signature": "x" * 28})
    assert forged.status_code == 403
    status = db.execute("SELECT status FROM notifications WHERE id = %s", (sms[0],)).fetchone()
    assert status == ("delivered",)


class TestGatewayDevices:
    """A gateway writes readings of its own devices only."""

    def test_readings_for_another_gateways_device_are_refused_and_not_stored(
        self, api, database_url, db
    ):
        _, ours = new_gateway(database_url, "王家")
        _, theirs = new_gateway(database_url, "李家")
        first = api.post(
            "/v1/readings",
            json={
                "readings": [blood_pressure("BP-LI", systolic=131)],
                "devices": [{"serial": "BP-LI", "kind": "blood_pressure", "battery_percent": 90}],
            },
            headers=auth(theirs),
        )
        assert first.json()["accepted"] == 1, first.text
        device_before = db.execute("SELECT * FROM devices WHERE serial = 'BP-LI'").fetchone()
        answer = api.post(
            "/v1/readings",
            json={
                "readings": [
                    blood_pressure("BP-LI", minutes=5, systolic=199),
                    blood_pressure("BP-WANG"),
                ],
                "devices": [{"serial": "BP-LI", "kind": "blood_pressure", "battery_percent": 5}],
            },
            headers=auth(ours),
        )
        assert answer.status_code == 200, answer.text
        results = answer.json()["results"]
        assert [r["status"] for r in results] == ["rejected", "accepted"]
        assert results[0]["reason"] == "device BP-LI is registered to another gateway"
        stored = db.execute(
            """SELECT d.serial, r.systolic FROM blood_pressure_readings r
               JOIN devices d ON d.id = r.device_id ORDER BY d.serial"""
        ).fetchall()
        assert stored == [("BP-LI", 131.0), ("BP-WANG", 128.0)]
        # What the other gateway reports about the device is not taken either.
        assert db.execute("SELECT * FROM devices WHERE serial = 'BP-LI'").fetchone() == (
            device_before
        )
