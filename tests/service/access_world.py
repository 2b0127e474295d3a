"""The world of the access matrix (test_access_matrix.py): who calls, what they may see, the
rows the calls point at, and a snapshot of every table to tell that a refused call changed
nothing."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from service.tokens import USER_TOKEN_PREFIX, new_token, token_hash
from tests.dashboards.clinic import _alert, _readings, _user, open_clinic
from tests.factories import community, new_gateway, resident

ANONYMOUS, GATEWAY, FAMILY, OTHER_DOCTOR, DOCTOR, ADMIN = ROLES = (
    "anonymous",
    "gateway",
    "family of A",
    "doctor of B's community",
    "doctor of A's community",
    "admin",
)
PEOPLE = (FAMILY, OTHER_DOCTOR, DOCTOR, ADMIN)
STAFF = (OTHER_DOCTOR, DOCTOR, ADMIN)
USERNAMES = {FAMILY: "xiaohong", OTHER_DOCTOR: "dr.zhao", DOCTOR: "dr.li", ADMIN: "admin"}
LANGUAGES = {FAMILY: "zh-CN", OTHER_DOCTOR: "zh-CN", DOCTOR: "zh-CN", ADMIN: "en"}
# The residents: A (the daughter's mother), N (A's neighbour, same community), B (elsewhere).
NAMES = {"A": "王秀英", "N": "李桂兰", "B": "赵桂芳"}
SEES: dict[str, set[str]] = {
    ANONYMOUS: set(),
    GATEWAY: set(),
    FAMILY: {"A"},
    OTHER_DOCTOR: {"B"},
    DOCTOR: {"A", "N"},
    ADMIN: {"A", "N", "B"},
}


@dataclass
class World:
    """The rows the calls point at: A's and B's, and throwaway ones for allowed changes."""

    db: psycopg.Connection[Any]
    standing: dict[str, dict[str, Any]]  # path parameters by target: "A", "B"
    community_of: dict[str, int]
    gateway_token: str
    user_tokens: dict[str, str]
    serials: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def one(self, query: str, *params: Any) -> Any:
        row = self.db.execute(query, params).fetchone()
        assert row is not None
        return row[0]

    def unique(self, stem: str) -> str:
        return f"{stem}{next(self.serials)}"

    # Throwaway rows for the allowed calls that change or delete what they point at.

    def community(self) -> dict[str, Any]:
        return {"community_id": community(self.db, self.unique("临时社区"))}

    def grid(self) -> dict[str, Any]:
        grid = self.one(
            "INSERT INTO grids (community_id, name) VALUES (%s, %s) RETURNING id",
            self.community_of["A"],
            self.unique("临时网格"),
        )
        return {"grid_id": grid}

    def resident(self) -> dict[str, Any]:
        return {"resident_id": resident(self.db, self.community_of["A"], "临时居民")}

    def contact(self) -> dict[str, Any]:
        contact = self.one(
            """INSERT INTO contacts (resident_id, name, kind, phone, escalation_order)
               VALUES (%s, '临时', 'neighbour', '+8613800138999', 9) RETURNING id""",
            self.standing["A"]["resident_id"],
        )
        return {"contact_id": contact}

    def user(self, role: str = "family") -> dict[str, Any]:
        name = self.unique("temp")
        user = self.one(
            "INSERT INTO users (username, display_name, role) VALUES (%s, %s, %s) RETURNING id",
            name,
            name,
            role,
        )
        return {"user_id": user}

    def user_token(self) -> dict[str, Any]:
        user = self.user()
        token = self.one(
            "INSERT INTO user_tokens (user_id, token_hash) VALUES (%s, %s) RETURNING id",
            user["user_id"],
            token_hash(new_token(USER_TOKEN_PREFIX)),
        )
        return user | {"token_id": token}

    def doctor_of_a(self) -> dict[str, Any]:
        user = self.user("doctor")
        self.db.execute(
            "INSERT INTO user_communities VALUES (%s, %s)",
            (user["user_id"], self.community_of["A"]),
        )
        return user | {"community_id": self.community_of["A"]}

    def relative_of_a(self) -> dict[str, Any]:
        user = self.user("family")
        resident_id = self.standing["A"]["resident_id"]
        self.db.execute(
            "INSERT INTO user_residents VALUES (%s, %s)", (user["user_id"], resident_id)
        )
        return user | {"resident_id": resident_id}

    def gateway(self) -> dict[str, Any]:
        gateway = self.one(
            "INSERT INTO gateways (name, token_hash) VALUES ('临时', %s) RETURNING id",
            token_hash(new_token("lgw_")),
        )
        return {"gateway_id": gateway}

    def device(self) -> dict[str, Any]:
        serial = self.unique("BP-TEMP-")
        self.db.execute(
            """INSERT INTO devices (serial, kind, gateway_id) VALUES (%s, 'blood_pressure', %s)""",
            (serial, self.gateway()["gateway_id"]),
        )
        return {"serial": serial, "user_index": 255}

    def assigned_device(self) -> dict[str, Any]:
        device = self.device()
        self.db.execute(
            """INSERT INTO device_users (device_id, user_index, resident_id)
               SELECT id, 255, %s FROM devices WHERE serial = %s""",
            (self.standing["A"]["resident_id"], device["serial"]),
        )
        return device

    def alert(self, target: str) -> dict[str, Any]:
        """An open alert of the target's resident, for one allowed acknowledgement."""
        resident_id = self.standing[target]["resident_id"]
        self.db.execute(
            """UPDATE alerts SET state = 'resolved', resolved_at = now()
               WHERE resident_id = %s AND rule = 'bp.crisis' AND state <> 'resolved'""",
            (resident_id,),
        )
        return {"alert_id": _alert(self.db, resident_id, "bp.crisis", "critical")}


def open_world(db: psycopg.Connection[Any], database_url: str) -> World:
    """The clinic of the page tests (A, her neighbour, their doctor, the daughter, an admin),
    another community with resident B and her doctor, API tokens for everyone, a gateway."""
    clinic = open_clinic(db)
    place_b = community(db, "崇义社区")
    b = resident(db, place_b, NAMES["B"])
    _readings(db, b, "BP-ZHAO", 172)
    alert_b = _alert(db, b, "bp.urgent", "urgent")
    dr_zhao = _user(db, "dr.zhao", "赵医生", "doctor", "zh-CN")
    db.execute("INSERT INTO user_communities VALUES (%s, %s)", (dr_zhao, place_b))
    users = dict(db.execute("SELECT username, id FROM users").fetchall())
    tokens, token_ids = {}, {}
    for role, username in USERNAMES.items():
        tokens[role] = new_token(USER_TOKEN_PREFIX)
        row = db.execute(
            "INSERT INTO user_tokens (user_id, token_hash) VALUES (%s, %s) RETURNING id",
            (users[username], token_hash(tokens[role])),
        ).fetchone()
        assert row is not None
        token_ids[role] = row[0]
    gateway_a, gateway_token = new_gateway(database_url, "王家")
    gateway_b, _ = new_gateway(database_url, "赵家")
    device = db.execute(
        """INSERT INTO devices (serial, kind, gateway_id)
           VALUES ('BP-GW-A', 'blood_pressure', %s) RETURNING id""",
        (gateway_a,),
    ).fetchone()
    assert device is not None
    db.execute(
        "INSERT INTO device_users (device_id, user_index, resident_id) VALUES (%s, 255, %s)",
        (device[0], clinic.mother),
    )

    def first(query: str, *params: Any) -> Any:
        row = db.execute(query, params).fetchone()
        assert row is not None
        return row[0]

    grid = "INSERT INTO grids (community_id, name) VALUES (%s, '一网格') RETURNING id"
    contact_b = first(
        """INSERT INTO contacts (resident_id, name, kind, phone, escalation_order)
           VALUES (%s, '赵明', 'family', '+8613800138002', 1) RETURNING id""",
        b,
    )
    standing = {
        "A": {
            "resident_id": clinic.mother,
            "alert_id": clinic.alert_id,
            "community_id": clinic.community_id,
            "grid_id": first(grid, clinic.community_id),
            "contact_id": first("SELECT id FROM contacts WHERE resident_id = %s", clinic.mother),
            "user_id": users["xiaohong"],
            "token_id": token_ids[FAMILY],
            "gateway_id": gateway_a,
            "serial": "BP-GW-A",
            "user_index": 255,
        },
        "B": {
            "resident_id": b,
            "alert_id": alert_b,
            "community_id": place_b,
            "grid_id": first(grid, place_b),
            "contact_id": contact_b,
            "user_id": dr_zhao,
            "token_id": token_ids[OTHER_DOCTOR],
            "gateway_id": gateway_b,
            "serial": "BP-ZHAO",
            "user_index": 255,
        },
    }
    return World(db, standing, {"A": clinic.community_id, "B": place_b}, gateway_token, tokens)


class Snapshot:
    """Every table's content as one md5 each, in one query. What a request with a token or a
    session notes of its use (`last_used_at`, `last_seen_at`) is left out."""

    def __init__(self, db: psycopg.Connection[Any]) -> None:
        self.db = db
        tables = [
            name
            for (name,) in db.execute(
                """SELECT table_name FROM information_schema.tables
                   WHERE table_schema = 'public' AND table_type = 'BASE TABLE'
                   ORDER BY table_name"""
            ).fetchall()
        ]
        parts = [
            sql.SQL(
                "SELECT {name}, md5(coalesce(string_agg(x::text, ',' ORDER BY x::text), ''))"
                " FROM (SELECT to_jsonb(t) - 'last_used_at' - 'last_seen_at' AS x"
                " FROM {table} t) s"
            ).format(name=sql.Literal(name), table=sql.Identifier(name))
            for name in tables
        ]
        self.query = sql.SQL(" UNION ALL ").join(parts)

    def take(self) -> dict[str, str]:
        return dict(self.db.execute(self.query).fetchall())


def changed(before: dict[str, str], after: dict[str, str]) -> list[str]:
    return sorted(
        name for name in before.keys() | after.keys() if before.get(name) != after.get(name)
    )
