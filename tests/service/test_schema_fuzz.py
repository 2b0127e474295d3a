"""Schemathesis over every operation of Linli's OpenAPI schema: whatever a caller sends, the
service answers, never with a 5xx.

The service runs on a real socket over the test's own database, seeded with a household: a
community, a doctor, a resident whose monitor and meter uploaded readings through a gateway,
an urgent alert and its messages, and a device nobody was given yet. Every operation of the
schema (new routes too: the list is read from /openapi.json) gets examples that follow the
schema and examples that break it, with a real admin token; the gateway's operations get them
with the gateway's token too. Path parameters name the seeded things half of the time, so
that bodies reach real rows and not only the 404 of an unknown id.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import psycopg
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.errors import FailureGroup
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.effort import record, tries
from tests.factories import auth, blood_pressure, user_token
from tests.service.alerting_home import Household, urgent_pressure

GATEWAY_PATHS = ("/v1/readings", "/v1/heartbeat")
# Operations that take away what later ones would use run last.
TAKING_AWAY = ("DELETE", "/disable", "/revoke")
UNASSIGNED_SERIAL = "BP-NEW"
# No 5xx, whatever is sent; answers as the schema documents them.
CHECKS = [not_a_server_error, response_schema_conformance]


@dataclass
class Seeded:
    """What the household holds: the ids path parameters may name, and who may call."""

    path_values: dict[str, Any]
    gateway_token: str
    db: psycopg.Connection[Any]
    base_url: str

    def admin_token(self) -> str:
        """A new admin with a fresh token."""
        return user_token(self.db, "admin")


@dataclass
class Outcome:
    """What one operation's examples came to."""

    sent: int = 0
    answered_2xx: int = 0
    failure: str | None = None


def seeded_ids(h: Household) -> dict[str, Any]:
    """One id of each kind the household holds, by the name path parameters give it."""

    def first(query: str) -> int:
        row = h.db.execute(query).fetchone()
        assert row is not None, query
        return int(row[0])

    community = first("SELECT community_id FROM residents ORDER BY id LIMIT 1")
    grid = h.db.execute(
        "INSERT INTO grids (community_id, name) VALUES (%s, '一网格') RETURNING id", (community,)
    ).fetchone()
    assert grid is not None
    return {
        "community_id": community,
        "grid_id": int(grid[0]),
        "resident_id": h.home.resident_id,
        "contact_id": h.daughter,
        "user_id": h.doctor,
        "alert_id": first("SELECT id FROM alerts ORDER BY id LIMIT 1"),
        "gateway_id": first("SELECT id FROM gateways ORDER BY id LIMIT 1"),
        "token_id": first("SELECT id FROM user_tokens ORDER BY id LIMIT 1"),
        "serial": "BP-HOME",
        "user_index": 255,
    }


@pytest.fixture
def seeded(household: Household) -> Seeded:
    h = household
    noticed = urgent_pressure(h)
    h.deliver(noticed)  # an alert with messages to the daughter
    h.home.api.post(
        "/v1/readings",
        json={"readings": [blood_pressure(UNASSIGNED_SERIAL)]},
        headers={"Authorization": f"Bearer {h.home.token}"},
    ).raise_for_status()
    user_token(h.db, "doctor")  # a token to list and revoke
    return Seeded(seeded_ids(h), h.home.token, h.db, h.url)


@pytest.fixture
def schema(seeded: Seeded) -> schemathesis.BaseSchema:
    """The schema the running service publishes."""
    return schemathesis.openapi.from_url(f"{seeded.base_url}/openapi.json")


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as s:
        yield s


def in_order(schema: schemathesis.BaseSchema) -> list[schemathesis.APIOperation]:
    """Every operation of the schema; those that take things away last."""
    operations = [result.ok() for result in schema.get_all_operations()]
    return sorted(operations, key=lambda op: any(w in op.label for w in TAKING_AWAY))


def cases(operation: schemathesis.APIOperation, seeded: Seeded) -> st.SearchStrategy[Case]:
    """Valid and invalid requests; with path parameters, also valid ones naming seeded things."""
    strategies = [operation.as_strategy(mode) for mode in GenerationMode]
    names = [p.name for p in operation.path_parameters]
    if names and all(name in seeded.path_values for name in names):
        known = {name: seeded.path_values[name] for name in names}
        strategies.append(operation.as_strategy(GenerationMode.POSITIVE, path_parameters=known))
    return st.one_of(strategies)


def fuzz(
    operation: schemathesis.APIOperation,
    seeded: Seeded,
    token: Callable[[], str],
    examples: int,
    session: requests.Session,
) -> Outcome:
    """Send `examples` requests to the operation; check each answer is no 5xx and fits the
    schema. The first failure (shrunk) is kept, so that every operation's is reported.

    An example may disable the admin or revoke the token: the next one gets a new token, as
    a refused token sent again and again would get the test's address throttled.
    """
    outcome = Outcome()
    headers = {"Authorization": f"Bearer {token()}"}

    @given(case=cases(operation, seeded))
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Case) -> None:
        nonlocal headers
        outcome.sent += 1
        response = case.call(base_url=seeded.base_url, session=session, headers=headers)
        outcome.answered_2xx += response.status_code < 300
        case.validate_response(response, checks=CHECKS, headers=headers)
        if response.status_code == 401:
            headers = {"Authorization": f"Bearer {token()}"}

    try:
        run()
    except (AssertionError, FailureGroup) as exc:
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        outcome.failure = "\n".join(line for line in lines if not line.startswith("`"))[:1500]
    return outcome


def report(test: str, outcomes: dict[str, Outcome]) -> None:
    """Record what was tried; fail with every operation's failure."""
    for name, outcome in outcomes.items():
        record(test, f"examples {name}", outcome.sent)
    record(test, "examples", sum(o.sent for o in outcomes.values()))
    record(test, "answered 2xx", sum(o.answered_2xx for o in outcomes.values()))
    record(test, "operations", len(outcomes))
    failures = {name: o.failure for name, o in outcomes.items() if o.failure}
    assert not failures, "\n\n".join(f"{name}:\n{found}" for name, found in failures.items())


def test_every_operation_as_an_admin(
    seeded: Seeded, schema: schemathesis.BaseSchema, session: requests.Session
) -> None:
    examples = tries(20, 200)
    outcomes = {
        op.label: fuzz(op, seeded, seeded.admin_token, examples, session) for op in in_order(schema)
    }
    assert len(outcomes) >= 50  # the whole schema was read, not a part of it
    # The seeded ids and valid bodies reach real rows: most operations answer 2xx sometimes.
    reached = [name for name, o in outcomes.items() if o.answered_2xx]
    assert len(reached) >= len(outcomes) * 2 // 3, sorted(set(outcomes) - set(reached))
    report("tests/service/test_schema_fuzz.py::admin", outcomes)


def test_the_gateway_operations_as_a_gateway(
    seeded: Seeded, schema: schemathesis.BaseSchema, session: requests.Session
) -> None:
    examples = tries(50, 500)
    operations = [op for op in in_order(schema) if op.path in GATEWAY_PATHS]
    assert len(operations) == len(GATEWAY_PATHS)
    outcomes = {
        op.label: fuzz(op, seeded, lambda: seeded.gateway_token, examples, session)
        for op in operations
    }
    assert all(o.answered_2xx for o in outcomes.values())
    report("tests/service/test_schema_fuzz.py::gateway", outcomes)


class TestWhatTheFuzzingFound:
    """Requests that were answered 500, each now a 422 naming what is wrong."""

    @pytest.mark.parametrize(
        ("method", "path", "body", "words"),
        [
            ("PUT", f"/v1/admin/users/1/communities/{2**70}", None, "less than or equal"),
            ("GET", f"/v1/admin/residents?offset={2**70}", None, "less than or equal"),
            ("GET", f"/v1/alerts?community_id={-(2**70)}", None, "greater than or equal"),
            ("POST", "/v1/admin/communities", {"name": "a\x00b"}, "should match pattern"),
            ("POST", "/v1/admin/gateways", {"name": "\x00"}, "should match pattern"),
            ("PUT", "/v1/admin/devices/a%00b/users/1", {"resident_id": 1}, "should match"),
            (
                "GET",
                "/v1/residents/1/readings?kind=glucose&until=0001-01-02T00:00:00Z",
                None,
                "'until' is too early",
            ),
        ],
    )
    def test_answered_422(
        self,
        api: httpx.Client,
        db: psycopg.Connection[Any],
        method: str,
        path: str,
        body: Any,
        words: str,
    ) -> None:
        answer = api.request(method, path, json=body, headers=auth(user_token(db, "admin")))
        assert answer.status_code == 422, answer.text
        assert words in answer.text
