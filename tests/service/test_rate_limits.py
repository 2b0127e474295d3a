"""The limits on guessing and on runaway clients, over real sockets from several loopback
addresses (127.0.0.2, 127.0.0.3, ...: each a client of its own to the server).

Bearer tokens: an address that presents too many unknown or revoked tokens gets 429 with
Retry-After, good tokens included, until the window has passed; a token making more requests
than any honest client would gets 429. The pages' sign-in locks a name after five wrong
passwords and an address after twenty, and says so in words. Twilio's callbacks need no limit:
their signature is an HMAC compared in constant time, so failures teach a guesser nothing.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from pydantic import SecretStr
from twilio.request_validator import RequestValidator

from service.errors import TooManyRequests
from service.throttle import Throttle
from tests.conftest import LiveServer, free_port
from tests.dashboards.clinic import PASSWORD, open_clinic
from tests.dashboards.test_pages import sign_in
from tests.effort import record, tries
from tests.factories import auth, blood_pressure, count, new_gateway, revoke, user_token
from tests.processes import Running

UNKNOWN_GATEWAY = "lgw_" + "x" * 43
UNKNOWN_USER = "lus_" + "y" * 43


def client_from(url: str, address: str, **options: object) -> httpx.Client:
    """An HTTP client whose connections come from `address` (any 127.x is this machine)."""
    transport = httpx.HTTPTransport(local_address=address)
    return httpx.Client(base_url=url, timeout=30, transport=transport, **options)  # type: ignore[arg-type]


def upload(client: httpx.Client, token: str, minutes: int = 0) -> httpx.Response:
    return client.post(
        "/v1/readings",
        json={"readings": [blood_pressure("BP-1", minutes=minutes)]},
        headers=auth(token),
    )


def heartbeat(client: httpx.Client, token: str) -> httpx.Response:
    return client.post("/v1/heartbeat", headers=auth(token))


def too_many(response: httpx.Response, longest: int) -> str:
    """The reason of a 429, after checking its Retry-After (whole seconds, 1..longest)."""
    assert response.status_code == 429, response.text
    assert 1 <= int(response.headers["retry-after"]) <= longest
    reason: str = response.json()["detail"]
    return reason


@pytest.fixture
def server(settings) -> Iterator[LiveServer]:
    with LiveServer(settings.model_copy(update={"run_worker": False})) as running:
        yield running


class TestRefusedTokens:
    def test_past_the_limit_an_address_is_refused_even_with_a_good_token(
        self, server, database_url, db
    ):
        _, token = new_gateway(database_url, "王家")
        revoked_id, revoked = new_gateway(database_url, "old gateway")
        revoke(database_url, revoked_id)
        admin = user_token(db, "admin")
        with client_from(server.url, "127.0.0.2") as guesser:
            # 20 in 15 minutes by default: gateway and user tokens, unknown and revoked.
            guesses = [UNKNOWN_GATEWAY] * 8 + [revoked] * 4 + [UNKNOWN_USER] * 8
            for guess in guesses:
                if guess.startswith("lgw_"):
                    assert upload(guesser, guess).status_code == 401
                else:
                    assert guesser.get("/v1/alerts", headers=auth(guess)).status_code == 401
            reason = too_many(upload(guesser, token), longest=15 * 60)
            assert "too many unknown or revoked tokens from this address" in reason
            too_many(guesser.get("/v1/alerts", headers=auth(admin)), longest=15 * 60)
            too_many(upload(guesser, UNKNOWN_GATEWAY), longest=15 * 60)
        assert count(db, "blood_pressure_readings") == 0
        with client_from(server.url, "127.0.0.3") as honest:
            answer = upload(honest, token)
            assert answer.status_code == 200, answer.text
            assert answer.json()["accepted"] == 1
            assert honest.get("/v1/alerts", headers=auth(admin)).status_code == 200
        assert count(db, "blood_pressure_readings") == 1

    def test_the_address_is_let_in_again_when_the_window_has_passed(self, settings, database_url):
        short = settings.model_copy(
            update={"run_worker": False, "bearer_failure_limit": "3 per 2 seconds"}
        )
        _, token = new_gateway(database_url, "王家")
        with LiveServer(short) as running, client_from(running.url, "127.0.0.2") as client:
            for _ in range(3):
                assert heartbeat(client, UNKNOWN_GATEWAY).status_code == 401
            too_many(heartbeat(client, token), longest=2)
            deadline = time.monotonic() + 30
            while (answer := heartbeat(client, token)).status_code == 429:
                assert time.monotonic() < deadline, "still refused 30 s after a 2 s window"
                time.sleep(0.2)
            assert answer.status_code == 204

    def test_a_token_of_the_wrong_kind_or_none_is_not_a_guess(self, server, database_url, db):
        _, gateway = new_gateway(database_url, "王家")
        doctor = user_token(db, "doctor")
        with client_from(server.url, "127.0.0.2") as client:
            for _ in range(25):
                assert client.get("/v1/alerts", headers=auth(gateway)).status_code == 401
                assert client.get("/v1/alerts").status_code == 401
                assert heartbeat(client, doctor).status_code == 401
            assert client.get("/v1/alerts", headers=auth(doctor)).status_code == 200
            assert heartbeat(client, gateway).status_code == 204


class TestRequestsPerToken:
    def test_a_runaway_token_is_stopped_and_the_others_go_on(self, settings, database_url, db):
        tight = settings.model_copy(
            update={"run_worker": False, "bearer_request_limit": "30 per minute"}
        )
        _, runaway = new_gateway(database_url, "王家")
        _, neighbour = new_gateway(database_url, "李家")
        with LiveServer(tight) as running, client_from(running.url, "127.0.0.2") as client:
            for _ in range(30):
                assert heartbeat(client, runaway).status_code == 204
            reason = too_many(upload(client, runaway), longest=60)
            assert "more than 30 per 1 minute requests with this token" in reason
            assert heartbeat(client, neighbour).status_code == 204  # same address, own token
            with client_from(running.url, "127.0.0.3") as elsewhere:
                assert upload(elsewhere, neighbour).status_code == 200
        assert count(db, "blood_pressure_readings") == 1  # the neighbour's only

    def test_the_default_limit_lets_a_gateway_catch_up_on_a_week_back_to_back(
        self, server, database_url, db
    ):
        # A gateway back online sends its outbox in batches as fast as they are answered
        # (devices.uploader); many more than a week's worth here.
        _, token = new_gateway(database_url, "王家")
        batches = tries(40, 400)
        with client_from(server.url, "127.0.0.2") as gateway:
            for batch in range(batches):
                readings = [blood_pressure("BP-1", minutes=batch * 100 + i) for i in range(100)]
                answer = gateway.post(
                    "/v1/readings", json={"readings": readings}, headers=auth(token)
                )
                assert answer.status_code == 200, f"batch {batch}: {answer.text}"
        assert count(db, "blood_pressure_readings") == batches * 100
        record("test_the_default_limit_lets_a_gateway_catch_up", "batches back to back", batches)


class TestSignIn:
    @pytest.fixture
    def site(self, server, db) -> str:
        open_clinic(db)
        return server.url

    def test_twenty_wrong_passwords_lock_the_address_and_only_it(self, site, db):
        # Sixteen earlier failures from the address, four for each of four names (each checks
        # a password with argon2, slowly: they are taken as read), then four more here: no
        # name reaches its own limit of five.
        names = ["admin", "xiaohong", "nobody", "someone"]
        for name in names * 4:
            db.execute(
                "INSERT INTO sign_in_failures (username, client) VALUES (%s, '127.0.0.2')",
                (name,),
            )
        english = {"Accept-Language": "en"}
        with client_from(site, "127.0.0.2", follow_redirects=True, headers=english) as guesser:
            for _ in range(4):
                assert "Wrong name or password." in sign_in(guesser, "dr.li", "guess").text
            locked = sign_in(guesser, "dr.li")  # the right password, from the locked address
            assert locked.url.path == "/login"
            assert "Too many tries. Wait 15 minutes and try again." in locked.text
        assert db.execute("SELECT count(*) FROM web_sessions").fetchone() == (0,)
        with client_from(site, "127.0.0.3", follow_redirects=True) as doctor:
            assert sign_in(doctor, "dr.li").url.path == "/today"

    def test_five_wrong_passwords_for_a_name_lock_it_from_every_address(self, site):
        for n in range(5):
            with client_from(site, f"127.0.0.{10 + n}", follow_redirects=True) as guesser:
                sign_in(guesser, "dr.li", "guess")
        headers = {"Accept-Language": "zh-CN"}
        with client_from(site, "127.0.0.20", follow_redirects=True, headers=headers) as doctor:
            locked = sign_in(doctor, "dr.li", PASSWORD)
            assert "尝试次数过多，请15分钟后再试。" in locked.text
            assert sign_in(doctor, "xiaohong").url.path == "/family"  # other names are open


class TestTwilioCallbacks:
    def test_forged_signatures_are_refused_and_lock_nobody_out(self, settings, db):
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        secret = "callbacks-auth-token"
        ours = settings.model_copy(
            update={
                "run_worker": False,
                "twilio_auth_token": SecretStr(secret),
                "public_url": url,
            }
        )
        form = {"From": "+8613800138001", "Body": "1"}
        with LiveServer(ours, port), client_from(url, "127.0.0.2") as caller:
            for n in range(50):
                forged = caller.post(
                    "/v1/twilio/inbound", data=form, headers={"X-Twilio-Signature": f"{n:028d}"}
                )
                assert forged.status_code == 403
            signature = RequestValidator(secret).compute_signature(f"{url}/v1/twilio/inbound", form)
            signed = caller.post(
                "/v1/twilio/inbound", data=form, headers={"X-Twilio-Signature": signature}
            )
            assert signed.status_code == 200, signed.text
            assert signed.text.startswith("<?xml")


class TestBehindAProxy:
    def test_linli_serve_counts_the_client_its_trusted_proxy_names(self, settings, database_url):
        _, token = new_gateway(database_url, "王家")
        port = free_port()
        env = {
            "LINLI_DATABASE_URL": database_url,
            "LINLI_PORT": str(port),
            "LINLI_RUN_WORKER": "false",
            "LINLI_TRUSTED_PROXIES": "127.0.0.1",
            "LINLI_BEARER_FAILURE_LIMIT": "3 per 15 minutes",
        }
        url = f"http://127.0.0.1:{port}"
        with Running("serve", settings=env) as serve:
            serve.wait_for("Application startup complete")

            def via(address: str, client: str, bearer: str) -> int:
                with client_from(url, address, headers={"X-Forwarded-For": client}) as c:
                    return heartbeat(c, bearer).status_code

            # The proxy (127.0.0.1) names each client: one guessing does not lock the other.
            assert [via("127.0.0.1", "203.0.113.7", UNKNOWN_GATEWAY) for _ in range(3)] == [401] * 3
            assert via("127.0.0.1", "203.0.113.7", token) == 429
            assert via("127.0.0.1", "203.0.113.8", token) == 204
            # Anyone else's X-Forwarded-For is ignored: 127.0.0.2 is counted as itself.
            assert [via("127.0.0.2", f"198.51.100.{n}", UNKNOWN_GATEWAY) for n in range(3)] == [
                401
            ] * 3
            assert via("127.0.0.2", "198.51.100.99", token) == 429


class TestClients:
    def test_an_ipv6_client_is_counted_by_its_64_network(self):
        # A home or a phone gets a whole /64: each of its addresses is the same client.
        throttle = Throttle("3 per 15 minutes", "6000 per minute")
        for host in ("2001:db8:0:7::1", "2001:db8:0:7::2", "2001:db8:0:7:abcd::3"):
            throttle.check_client(host)
            throttle.refused(host)
        with pytest.raises(TooManyRequests, match="too many unknown or revoked tokens"):
            throttle.check_client("2001:db8:0:7:ffff::9")
        throttle.check_client("2001:db8:0:8::1")  # the next network is someone else
        throttle.check_client("192.0.2.7")
