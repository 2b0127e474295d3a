"""`linli admin ...` run as a child process against a real PostgreSQL."""

from __future__ import annotations

import subprocess

import pytest

from service.passwords import verify_password
from service.tokens import token_hash
from tests import processes
from tests.factories import auth, blood_pressure


@pytest.fixture
def linli(database_url, tmp_path):
    """Run `linli admin ...` on the test's database; stdin is optional input."""
    settings = {"LINLI_DATABASE_URL": database_url, "LINLI_DATA_DIR": str(tmp_path / "data")}

    def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return processes.linli("admin", *args, settings=settings, stdin=stdin)

    return run


def ok(result: subprocess.CompletedProcess[str]) -> str:
    """The one line the command printed on stdout, after checking it succeeded."""
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result.stdout
    return lines[0]


def refused(result: subprocess.CompletedProcess[str]) -> str:
    """The one stderr line of a command refused for bad input (exit 2, no traceback)."""
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("linli: ")
    return lines[0]


def first_id(line: str) -> int:
    return int(line.split()[0])


@pytest.fixture
def community_id(linli):
    return first_id(ok(linli("create-community", "敦仁社区")))


@pytest.fixture
def resident_id(linli, community_id):
    return first_id(
        ok(
            linli(
                "create-resident",
                "--name=王秀英",
                "--sex=female",
                "--birth-date=1944-03-02",
                f"--community={community_id}",
            )
        )
    )


class TestCreateCommunityAndGrid:
    def test_community_is_stored_and_printed_id_first(self, linli, db):
        line = ok(linli("create-community", "敦仁社区", "--name-en", "Dunren"))
        row = db.execute("SELECT id, name, name_en, district FROM communities").fetchone()
        assert row == (first_id(line), "敦仁社区", "Dunren", "涪陵区")
        assert line == f"{row[0]} community 敦仁社区 (Dunren), 涪陵区"

    def test_grid_is_stored_in_its_community(self, linli, db, community_id):
        line = ok(linli("create-grid", str(community_id), "一网格"))
        row = db.execute("SELECT id, community_id, name FROM grids").fetchone()
        assert row == (first_id(line), community_id, "一网格")

    def test_a_taken_name_is_one_line_and_exit_2(self, linli, db, community_id):
        message = refused(linli("create-community", "敦仁社区"))
        assert message == "linli: a community named '敦仁社区' already exists"
        assert db.execute("SELECT count(*) FROM communities").fetchone() == (1,)

    def test_a_grid_of_a_missing_community(self, linli, db):
        assert refused(linli("create-grid", "999", "一网格")) == "linli: no community 999"
        assert "COMMUNITY_ID" in refused(linli("create-grid", "敦仁", "一网格")).upper()


class TestAlertingOverrides:
    def test_a_community_with_a_policy(self, linli, db):
        line = ok(
            linli(
                "create-community",
                "敦仁社区",
                '--alerting-overrides={"urgent": {"repeat_hours": 2}}',
            )
        )
        assert line.endswith(', alerting {"urgent": {"repeat_hours": 2}}')
        stored = db.execute("SELECT id, alerting_overrides FROM communities").fetchone()
        assert stored == (first_id(line), {"urgent": {"repeat_hours": 2}})

    @pytest.mark.parametrize(
        ("value", "message"),
        [
            ("{urgent: 1}", "--alerting-overrides is not JSON: Expecting property"),
            ("[1]", "--alerting-overrides takes a JSON object"),
            ('{"loud": 1}', "alerting_overrides: alerting_overrides.loud: Extra inputs"),
            (
                '{"urgent": {"steps": [{"to": "nobody"}]}}',
                "alerting_overrides.urgent.steps.0.to: Input should be 'family' or 'doctor'",
            ),
        ],
    )
    def test_a_bad_policy_is_one_line(self, linli, db, value, message):
        assert message in refused(
            linli("create-community", "敦仁社区", "--alerting-overrides", value)
        )
        assert db.execute("SELECT count(*) FROM communities").fetchone() == (0,)


class TestCreateResident:
    def test_resident_with_grid_and_conditions(self, linli, db, community_id):
        grid_id = first_id(ok(linli("create-grid", str(community_id), "一网格")))
        line = ok(
            linli(
                "create-resident",
                "--name=王秀英",
                "--sex=female",
                "--birth-date=1944-03-02",
                f"--community={community_id}",
                f"--grid={grid_id}",
                "--condition=hypertension",
                "--condition=diabetes",
                "--time-zone=Asia/Chongqing",
            )
        )
        row = db.execute(
            "SELECT id, name, conditions, community_id, grid_id, time_zone FROM residents"
        ).fetchone()
        assert row == (
            first_id(line),
            "王秀英",
            ["hypertension", "diabetes"],
            community_id,
            grid_id,
            "Asia/Chongqing",
        )
        assert "hypertension+diabetes" in line

    def test_resident_with_a_doctor(self, linli, db, community_id):
        doctor = first_id(ok(linli("create-user", "dr.li", "--role=doctor", "--display-name=李")))
        args = ["--name=王秀英", "--sex=female", "--birth-date=1944-03-02"]
        line = ok(
            linli("create-resident", *args, f"--community={community_id}", f"--doctor={doctor}")
        )
        assert f", doctor {doctor}," in line
        row = db.execute("SELECT id, doctor_id FROM residents").fetchone()
        assert row == (first_id(line), doctor)

    def test_a_doctor_who_is_family_is_refused(self, linli, db, community_id):
        family = first_id(ok(linli("create-user", "wang", "--role=family", "--display-name=王")))
        args = ["--name=王秀英", "--sex=female", "--birth-date=1944-03-02"]
        result = linli(
            "create-resident", *args, f"--community={community_id}", f"--doctor={family}"
        )
        assert refused(result) == f"linli: user {family} is not a doctor (role family)"
        missing = linli("create-resident", *args, f"--community={community_id}", "--doctor=999")
        assert refused(missing) == "linli: no user 999"
        assert db.execute("SELECT count(*) FROM residents").fetchone() == (0,)

    @pytest.mark.parametrize(
        ("option", "message"),
        [
            ("--time-zone=Asia/Fuling", "unknown time zone 'Asia/Fuling'"),
            ("--sex=other", "sex: Input should be 'female' or 'male'"),
            ("--condition=asthma", "conditions.0: Input should be 'hypertension' or 'diabetes'"),
            ("--birth-date=1944-13-02", "birth_date: Input should be a valid date"),
            ("--grid=999", "grid 999 is not a grid of community"),
        ],
    )
    def test_bad_input_is_one_line(self, linli, db, community_id, option, message):
        args = ["--name=王秀英", "--sex=female", "--birth-date=1944-03-02"]
        result = linli("create-resident", *args, f"--community={community_id}", option)
        assert message in refused(result)
        assert db.execute("SELECT count(*) FROM residents").fetchone() == (0,)


class TestDetectionOverrides:
    def test_a_community_and_a_resident_with_settings(self, linli, db):
        line = ok(
            linli(
                "create-community", "敦仁社区", '--detection-overrides={"bp_urgent_systolic": 170}'
            )
        )
        assert line.endswith(', detection {"bp_urgent_systolic": 170}')
        resident = ok(
            linli(
                "create-resident",
                "--name=王秀英",
                "--sex=female",
                "--birth-date=1944-03-02",
                f"--community={first_id(line)}",
                "--detection-overrides",
                '{"pulse_high": 110}',
            )
        )
        assert resident.endswith(', detection {"pulse_high": 110}')
        stored = db.execute(
            """SELECT c.detection_overrides, r.detection_overrides
               FROM residents r JOIN communities c ON c.id = r.community_id"""
        ).fetchall()
        assert stored == [({"bp_urgent_systolic": 170}, {"pulse_high": 110})]

    @pytest.mark.parametrize(
        ("value", "message"),
        [
            ("{bp_urgent_systolic: 170}", "--detection-overrides is not JSON: Expecting property"),
            ("[170]", "--detection-overrides takes a JSON object"),
            ('{"bp_urgnet": 170}', "detection_overrides: unknown threshold 'bp_urgnet'"),
            (
                '{"pulse_high": NaN}',
                "detection_overrides: threshold 'pulse_high' must be a finite number",
            ),
        ],
    )
    def test_bad_settings_are_one_line(self, linli, db, value, message):
        assert message in refused(
            linli("create-community", "敦仁社区", "--detection-overrides", value)
        )
        assert db.execute("SELECT count(*) FROM communities").fetchone() == (0,)


class TestCreateContact:
    def test_contact_with_quiet_hours(self, linli, db, resident_id):
        line = ok(
            linli(
                "create-contact",
                str(resident_id),
                "--name=王明",
                "--phone=+8613800138000",
                "--kind=family",
                "--relationship=son",
                "--quiet-hours=22:00-07:00",
            )
        )
        row = db.execute(
            """SELECT id, resident_id, phone, escalation_order, quiet_hours_start::text,
                      quiet_hours_end::text FROM contacts"""
        ).fetchone()
        assert row == (first_id(line), resident_id, "+8613800138000", 1, "22:00:00", "07:00:00")

    def test_contact_with_a_time_zone_of_their_own(self, linli, db, resident_id):
        args = ["--name=王明", "--phone=+8613800138000", "--kind=family"]
        line = ok(linli("create-contact", str(resident_id), *args, "--time-zone=Europe/London"))
        assert line.endswith(", time zone Europe/London")
        row = db.execute("SELECT id, time_zone, sms_stopped_at FROM contacts").fetchone()
        assert row == (first_id(line), "Europe/London", None)
        other = ok(linli("create-contact", str(resident_id), "--name=王丽", *args[1:]))
        assert "time zone" not in other
        stored = db.execute("SELECT time_zone FROM contacts WHERE id = %s", (first_id(other),))
        assert stored.fetchone() == (None,)

    @pytest.mark.parametrize(
        ("option", "message"),
        [
            ("--phone=13800138000", "phone: must be in E.164 form"),
            ("--phone=+861380013800", "phone: +861380013800 is not a valid phone number"),
            ("--time-zone=Mars/Olympus", "time_zone: unknown time zone 'Mars/Olympus'"),
            ("--quiet-hours=22:00", "--quiet-hours must look like 22:00-07:00"),
            ("--order=0", "Invalid value for '--order'"),
        ],
    )
    def test_bad_input_is_one_line(self, linli, db, resident_id, option, message):
        args = ["--name=王明", "--phone=+8613800138000", "--kind=family", option]
        assert message in refused(linli("create-contact", str(resident_id), *args))
        assert db.execute("SELECT count(*) FROM contacts").fetchone() == (0,)

    def test_a_missing_resident(self, linli):
        args = ["--name=王明", "--phone=+8613800138000", "--kind=family"]
        assert refused(linli("create-contact", "999", *args)) == "linli: no resident 999"


class TestCreateUserAndToken:
    def test_a_doctor_with_password_and_communities(self, linli, db, community_id):
        other = first_id(ok(linli("create-community", "崇义社区")))
        line = ok(
            linli(
                "create-user",
                "dr.li",
                "--role=doctor",
                "--display-name=李医生",
                "--password-stdin",
                f"--community={community_id}",
                f"--community={other}",
                stdin="correct horse\n",
            )
        )
        user = db.execute("SELECT id, role, password_hash FROM users").fetchone()
        assert user is not None
        assert (user[0], user[1]) == (first_id(line), "doctor")
        assert verify_password("correct horse", user[2])
        grants = db.execute("SELECT user_id, community_id FROM user_communities ORDER BY 2")
        assert grants.fetchall() == [(user[0], community_id), (user[0], other)]

    def test_a_doctor_with_phone_and_time_zone(self, linli, db):
        args = ["--role=doctor", "--display-name=李医生", "--phone=+8613911112222"]
        line = ok(linli("create-user", "dr.li", *args, "--time-zone=Asia/Urumqi"))
        assert line == f"{first_id(line)} user dr.li (doctor) 李医生 +8613911112222"
        row = db.execute("SELECT phone, time_zone FROM users").fetchone()
        assert row == ("+8613911112222", "Asia/Urumqi")
        ok(linli("create-user", "dr.wang", "--role=doctor", "--display-name=王医生"))
        default = db.execute("SELECT phone, time_zone FROM users WHERE username = 'dr.wang'")
        assert default.fetchone() == (None, "Asia/Shanghai")

    @pytest.mark.parametrize(
        ("option", "message"),
        [
            ("--phone=+861380013800", "phone: +861380013800 is not a valid phone number"),
            ("--phone=13800138000", "phone: must be in E.164 form"),
            ("--time-zone=Mars/Olympus", "time_zone: unknown time zone 'Mars/Olympus'"),
        ],
    )
    def test_a_bad_phone_or_time_zone_is_one_line(self, linli, db, option, message):
        args = ["--role=doctor", "--display-name=李医生", option]
        assert message in refused(linli("create-user", "dr.li", *args))
        assert db.execute("SELECT count(*) FROM users").fetchone() == (0,)

    def test_a_family_member_with_a_resident(self, linli, db, resident_id):
        args = ["--role=family", "--display-name=王明", f"--resident={resident_id}"]
        user_id = first_id(ok(linli("create-user", "wang", *args)))
        rows = db.execute("SELECT user_id, resident_id FROM user_residents").fetchall()
        assert rows == [(user_id, resident_id)]

    def test_refused_access_creates_no_user(self, linli, db, resident_id):
        args = ["--role=doctor", "--display-name=李医生", f"--resident={resident_id}"]
        assert "only family members follow residents" in refused(linli("create-user", "li", *args))
        assert db.execute("SELECT count(*) FROM users").fetchone() == (0,)

    def test_bad_users_are_one_line(self, linli, db):
        ok(linli("create-user", "dr.li", "--role=doctor", "--display-name=李医生"))
        taken = linli("create-user", "DR.LI", "--role=doctor", "--display-name=李")
        assert refused(taken) == "linli: username 'DR.LI' is taken"
        assert "role" in refused(linli("create-user", "x1", "--role=nurse", "--display-name=x"))
        short = linli("create-user", "x2", "--role=admin", "--display-name=x", "--password-stdin")
        assert "password" in refused(short)
        assert db.execute("SELECT count(*) FROM users").fetchone() == (1,)

    def test_token_is_printed_once_stored_hashed_and_works(self, linli, db, api):
        ok(linli("create-user", "root", "--role=admin", "--display-name=Root"))
        result = linli("create-token", "ROOT")
        token = ok(result)
        assert token.startswith("lus_")
        assert "shown only now" in result.stderr
        row = db.execute("SELECT token_hash FROM user_tokens").fetchone()
        assert row == (token_hash(token),)
        assert api.get("/v1/admin/users", headers=auth(token)).status_code == 200
        assert refused(linli("create-token", "nobody")) == "linli: no user nobody"


class TestGatewaysAndDevices:
    def test_create_and_revoke_a_gateway(self, linli, db, api):
        result = linli("create-gateway", "王家")
        token = ok(result)
        gateway_id = db.execute(
            "SELECT id FROM gateways WHERE token_hash = %s", (token_hash(token),)
        )
        (gid,) = gateway_id.fetchone()
        assert f"gateway {gid} created" in result.stderr
        line = ok(linli("revoke-gateway", str(gid)))
        assert line.startswith(f"{gid} gateway 王家 revoked")
        revoked = db.execute("SELECT revoked_at IS NOT NULL FROM gateways").fetchone()
        assert revoked == (True,)
        upload = {"readings": [blood_pressure()]}
        assert api.post("/v1/readings", json=upload, headers=auth(token)).status_code == 401
        assert refused(linli("revoke-gateway", "999")) == "linli: no gateway 999"

    def test_list_devices_and_assign(self, linli, db, api, resident_id):
        token = ok(linli("create-gateway", "王家"))
        upload = {"readings": [blood_pressure("BP-9", minutes=i) for i in range(3)]}
        assert api.post("/v1/readings", json=upload, headers=auth(token)).json()["accepted"] == 3
        listed = ok(linli("list-devices", "--unassigned"))
        assert listed.split("\t")[1:3] == ["BP-9", "blood_pressure"]
        assert listed.endswith("3 unassigned readings")
        ok(linli("assign-device", "BP-9", str(resident_id)))
        assert linli("list-devices", "--unassigned").stdout == ""
        assert "0 unassigned readings" in ok(linli("list-devices"))


class TestUsageErrors:
    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (["create-grid", "one", "一网格"], "Invalid value for 'community_id'"),
            (["create-resident", "--name=王秀英"], "Missing option"),
            (["create-community", "x", "--nmae=y"], "No such option: --nmae"),
            (["create-communty", "x"], "No such command 'create-communty'"),
            (
                ["assign-device", "BP-1", "1", "--user-index=256"],
                "Invalid value for '--user-index'",
            ),
        ],
    )
    def test_one_line_exit_2_no_traceback(self, linli, args, message):
        assert message in refused(linli(*args))
