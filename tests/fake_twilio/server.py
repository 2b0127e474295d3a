"""The HTTP side of the fake: routing, auth, recording, failure injection, status lifecycles."""

from __future__ import annotations

import base64
import binascii
import collections
import contextlib
import datetime as dt
import hmac
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Literal, Self, TypeVar
from urllib.parse import parse_qs, parse_qsl

import httpx

from tests.fake_twilio import lifecycle, webhooks
from tests.fake_twilio.resources import (
    Resource,
    TwilioError,
    call_resource,
    list_page,
    matches,
    message_resource,
    new_sid,
    utcnow,
    validate_call,
    validate_message,
)

DEFAULT_ACCOUNT_SID = "AC" + "fa4e" * 8
DEFAULT_AUTH_TOKEN = "f4ce" * 8
_ROUTE = re.compile(
    r"^/2010-04-01/Accounts/(?P<account>[^/]+)/(?P<kind>Messages|Calls)(?:/(?P<sid>[^/]+))?\.json$"
)
_log = logging.getLogger("tests.fake_twilio")
_T = TypeVar("_T")
# How Twilio is down: answering errors, refusing connections, or never answering.
OutageMode = Literal["error", "refuse", "hang"]


@dataclass
class Recorded:
    """One request the fake received. `status` stays None while it is being answered (and
    for good when a hanging outage dropped it unanswered)."""

    method: str
    path: str
    query: dict[str, str]
    form: dict[str, str]  # first value of each form field
    form_lists: dict[str, list[str]]  # every value (StatusCallbackEvent repeats)
    received: float = field(default_factory=time.monotonic)
    received_at: dt.datetime = field(default_factory=utcnow)
    status: int | None = None
    resource: Resource | None = None  # the message or call created, as first answered


@dataclass
class _Fault:
    status: int | None  # None: stall
    seconds: float = 0.0
    then_create: bool = False
    hold: float = 0.0  # created at once, answered this many seconds later


@dataclass(frozen=True)
class _Outage:
    mode: OutageMode
    status: int


@dataclass
class _Stored:
    kind: str
    resource: Resource
    form: dict[str, str]
    form_lists: dict[str, list[str]]


class _StatusMap(dict[str, str]):
    """Final status per recipient number; refuses statuses the lifecycle does not know."""

    def __init__(self, allowed: tuple[str, ...]) -> None:
        super().__init__()
        self.allowed = allowed

    def __setitem__(self, number: str, status: str) -> None:
        if status not in self.allowed:
            raise ValueError(f"unknown final status {status!r}, use one of {self.allowed}")
        super().__setitem__(number, status)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], fake: FakeTwilio) -> None:
        super().__init__(address, _Handler)
        self.fake = fake


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def _serve(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        auth = self.headers.get("Authorization")
        answer = self.server.fake._handle(method, self.path, auth, body)
        if answer is None:  # a hanging outage: the connection is dropped unanswered
            self.close_connection = True
            return
        status, payload, headers = answer
        data = json.dumps(payload).encode()
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Content-Length": str(len(data)),
            "Twilio-Request-Id": new_sid("RQ"),
            **headers,
        }
        try:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            _log.debug("client went away before the answer to %s %s", method, self.path)

    def log_message(self, format: str, *args: object) -> None:
        _log.info("%s %s", self.address_string(), format % args)


class FakeTwilio:
    """Twilio's 2010-04-01 Messages and Calls API on 127.0.0.1, for the official client."""

    def __init__(
        self,
        account_sid: str = DEFAULT_ACCOUNT_SID,
        auth_token: str = DEFAULT_AUTH_TOKEN,
        *,
        callbacks: bool = True,
        callback_delay: float = 0.02,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.callbacks_enabled = callbacks
        self.callback_delay = callback_delay
        self.final_status: dict[str, str] = _StatusMap(lifecycle.MESSAGE_STATUSES)
        self.final_call_status: dict[str, str] = _StatusMap(lifecycle.CALL_STATUSES)
        self._cond = threading.Condition()
        self._stored: list[_Stored] = []
        self._requests: list[Recorded] = []
        self._callbacks: list[webhooks.CallbackAttempt] = []
        self._faults: collections.deque[_Fault] = collections.deque()
        self._rejected: dict[str, tuple[int, int]] = {}
        self._outage: _Outage | None = None
        self._closing = threading.Event()
        self._workers: list[threading.Thread] = []
        self._listen(host, port)
        self.url = f"http://{host}:{self._server.server_address[1]}"

    # -- lifetime --------------------------------------------------------------------------

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop answering; wakes stalled requests and stops pending lifecycles. Idempotent."""
        if self._closing.is_set():
            return
        self._closing.set()
        with self._cond:
            self._cond.notify_all()  # hanging requests end
        if self._listening:
            self._stop_listening()
        deadline = time.monotonic() + 2
        for worker in self._workers:
            worker.join(timeout=max(0.0, deadline - time.monotonic()))

    # -- what was received -----------------------------------------------------------------

    @property
    def messages(self) -> list[Resource]:
        """Created messages in creation order, as they are now (status moves on)."""
        return self._snapshot("Messages")

    @property
    def calls(self) -> list[Resource]:
        """Created calls in creation order, as they are now."""
        return self._snapshot("Calls")

    @property
    def requests(self) -> list[Recorded]:
        with self._cond:
            return list(self._requests)

    @property
    def callbacks(self) -> list[webhooks.CallbackAttempt]:
        """Every status callback posted, in order, with the service's answer."""
        with self._cond:
            return list(self._callbacks)

    @property
    def callback_errors(self) -> list[webhooks.CallbackAttempt]:
        """The status callbacks the service did not answer with a 2xx."""
        return [attempt for attempt in self.callbacks if not attempt.ok]

    def wait_for_messages(self, n: int, timeout: float = 5.0) -> list[Resource]:
        return self._wait(f"{n} created message(s)", lambda: self._snapshot("Messages"), n, timeout)

    def wait_for_calls(self, n: int, timeout: float = 5.0) -> list[Resource]:
        return self._wait(f"{n} created call(s)", lambda: self._snapshot("Calls"), n, timeout)

    def wait_for_callbacks(self, n: int, timeout: float = 5.0) -> list[webhooks.CallbackAttempt]:
        return self._wait(f"{n} status callback(s)", lambda: list(self._callbacks), n, timeout)

    # -- failure injection -----------------------------------------------------------------

    def fail_next(self, count: int = 1, status: int = 500) -> None:
        """The next `count` creating POSTs get a Twilio error (429 adds Retry-After: 1)."""
        if not 400 <= status <= 599:
            raise ValueError(f"fail_next needs an error status, got {status}")
        self._add_faults(_Fault(status) for _ in range(count))

    def stall_next(self, count: int = 1, seconds: float = 5.0, then_create: bool = False) -> None:
        """The next `count` creating POSTs are answered only after `seconds`.

        Without `then_create` nothing is created and the late answer is a 503; with it the
        resource is created when the stall ends (Twilio sent it, the client never heard).
        """
        self._add_faults(_Fault(None, seconds, then_create) for _ in range(count))

    def hold_answer_next(self, count: int = 1, seconds: float = 5.0) -> None:
        """The next `count` creating POSTs create the message or call at once and answer only
        after `seconds`: Twilio took it, and the answer is slow to come back."""
        self._add_faults(_Fault(None, then_create=True, hold=seconds) for _ in range(count))

    def reject_number(self, number: str, code: int = 21610, status: int = 400) -> None:
        """Every message or call to `number` fails with this Twilio error."""
        with self._cond:
            self._rejected[number] = (status, code)

    def outage(self, mode: OutageMode = "error", status: int = 503) -> None:
        """Twilio is down until `restore()` (another call switches to another kind of outage):

        - "error": every request is answered `status` (a 500 or 503, say) as in an incident;
        - "refuse": nothing listens on the port: connections are refused;
        - "hang": requests are read and never answered: the client times out.

        Nothing is created meanwhile. Messages and calls created before move on and report
        their statuses as usual.
        """
        if not 400 <= status <= 599:
            raise ValueError(f"an outage answers an error status, got {status}")
        self.restore()
        with self._cond:
            self._outage = _Outage(mode, status)
        if mode == "refuse":
            self._stop_listening()

    def restore(self) -> None:
        """The end of an outage: Twilio answers again, on the same address."""
        with self._cond:
            outage, self._outage = self._outage, None
            self._cond.notify_all()  # wakes the hanging requests, which are then dropped
        if outage is not None and outage.mode == "refuse" and not self._closing.is_set():
            host, port = self._server.server_address[:2]
            self._listen(str(host), int(port))

    # -- the service's webhooks ------------------------------------------------------------

    def sign(self, url: str, params: dict[str, str]) -> str:
        """The X-Twilio-Signature Twilio would send with a POST of `params` to `url`."""
        return webhooks.sign(self.auth_token, url, params)

    def reply(
        self, service_url: str, from_: str, body: str, to: str | None = None
    ) -> httpx.Response:
        """Post an incoming SMS from `from_` to the service's webhook, signed."""
        params = webhooks.inbound_sms(self.account_sid, from_, to or self._usual_sender(), body)
        return webhooks.post_signed(self.auth_token, service_url, params)

    def press(self, call_sid: str, digits: str) -> httpx.Response:
        """The callee of `call_sid` types `digits`: post them to the call's <Gather> action."""
        stored = self._find("Calls", call_sid)
        if stored is None:
            raise AssertionError(f"no call {call_sid} was created; calls: {self.calls}")
        twiml = stored.form.get("Twiml")
        if not twiml:
            raise AssertionError(f"call {call_sid} has no Twiml (Url={stored.form.get('Url')})")
        action = webhooks.gather_action(twiml)
        with self._cond:
            params = webhooks.gather_digits(stored.resource, digits)
        return webhooks.post_signed(self.auth_token, action, params)

    # -- internals: requests ---------------------------------------------------------------

    def _handle(
        self, method: str, target: str, auth: str | None, body: str
    ) -> tuple[int, Resource, dict[str, str]] | None:
        """The answer to a request: status, JSON and headers; None for no answer at all."""
        path, _, query = target.partition("?")
        lists = parse_qs(body, keep_blank_values=True)
        form = {name: values[0] for name, values in lists.items()}
        record = Recorded(method, path, dict(parse_qsl(query, keep_blank_values=True)), form, lists)
        with self._cond:
            self._requests.append(record)
            outage = self._outage
        if outage is not None and outage.mode == "hang":
            with self._cond:
                self._cond.wait_for(lambda: self._outage is None or self._closing.is_set())
            return None
        try:
            if outage is not None:
                raise TwilioError(outage.status)
            self._authenticate(auth)
            status, payload = self._route(method, record)
        except TwilioError as error:
            record.status = error.status
            return error.status, error.payload(), error.headers
        record.status = status
        return status, payload, {}

    def _authenticate(self, header: str | None) -> None:
        user = password = ""
        if header and header.startswith("Basic "):
            with contextlib.suppress(binascii.Error, UnicodeDecodeError):
                user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        sid_ok = hmac.compare_digest(user.encode(), self.account_sid.encode())
        if not (sid_ok and hmac.compare_digest(password.encode(), self.auth_token.encode())):
            error = TwilioError(401)
            error.headers["WWW-Authenticate"] = 'Basic realm="Twilio API"'
            raise error

    def _route(self, method: str, record: Recorded) -> tuple[int, Resource]:
        match = _ROUTE.match(record.path)
        if not match or match["account"] != self.account_sid:
            raise TwilioError(404, 20404, f"The requested resource {record.path} was not found")
        kind, sid = match["kind"], match["sid"]
        if method == "POST" and sid is None:
            return 201, self._create(kind, record)
        if method == "GET" and sid is None:
            with self._cond:
                found = [dict(s.resource) for s in reversed(self._stored) if s.kind == kind]
            records = [r for r in found if matches(r, record.query)]
            return 200, list_page(kind.lower(), record.path, records, record.query)
        stored = self._find(kind, sid) if method == "GET" else None
        if stored is None:
            raise TwilioError(404, 20404, f"The requested resource {record.path} was not found")
        with self._cond:
            return 200, dict(stored.resource)

    def _create(self, kind: str, record: Recorded) -> Resource:
        form = record.form
        if kind == "Messages":
            validate_message(form)
        else:
            validate_call(form)
        with self._cond:
            rejected = self._rejected.get(form["To"])
            fault = self._faults.popleft() if self._faults else None
        if rejected:
            raise TwilioError(*rejected)
        if fault:
            self._apply(fault)
        build = message_resource if kind == "Messages" else call_resource
        stored = _Stored(kind, build(self.account_sid, form, utcnow()), form, record.form_lists)
        with self._cond:
            self._stored.append(stored)
            record.resource = dict(stored.resource)
            self._cond.notify_all()
        self._start(self._message_lifecycle if kind == "Messages" else self._call_lifecycle, stored)
        if fault and fault.hold:
            self._closing.wait(fault.hold)
        return dict(record.resource)

    def _apply(self, fault: _Fault) -> None:
        if fault.status is not None:
            error = TwilioError(fault.status)
            if fault.status == 429:
                error.headers["Retry-After"] = "1"
            raise error
        if fault.hold:
            return  # created first, answered late (in _create)
        self._closing.wait(fault.seconds)
        if not fault.then_create or self._closing.is_set():
            raise TwilioError(503)

    # -- internals: lifecycles and callbacks -----------------------------------------------

    def _start(self, target: Callable[[_Stored], None], stored: _Stored) -> None:
        worker = threading.Thread(target=target, args=(stored,), daemon=True)
        with self._cond:
            self._workers.append(worker)
        worker.start()

    def _message_lifecycle(self, stored: _Stored) -> None:
        final = self.final_status.get(stored.resource["to"], "delivered")
        for step in lifecycle.message_steps(final):
            if self._closing.wait(self.callback_delay):
                return
            with self._cond:
                lifecycle.advance_message(stored.resource, step, utcnow())
                params = lifecycle.message_callback(stored.resource)
            self._callback(stored.form.get("StatusCallback"), params)

    def _call_lifecycle(self, stored: _Stored) -> None:
        final = self.final_call_status.get(stored.resource["to"], "completed")
        events = " ".join(stored.form_lists.get("StatusCallbackEvent", [])).split()
        sequence = 0
        for step in lifecycle.call_steps(final, events):
            if self._closing.wait(self.callback_delay):
                return
            with self._cond:
                lifecycle.advance_call(stored.resource, step, utcnow())
                params = lifecycle.call_callback(stored.resource, sequence, utcnow())
            if step.report:
                self._callback(stored.form.get("StatusCallback"), params)
                sequence += 1

    def _callback(self, url: str | None, params: dict[str, str]) -> None:
        if not url or not self.callbacks_enabled or self._closing.is_set():
            return
        attempt = webhooks.deliver(self.auth_token, url, params)
        if not attempt.ok:
            _log.warning("status callback to %s failed: %s", url, attempt.error)
        with self._cond:
            self._callbacks.append(attempt)
            self._cond.notify_all()

    # -- internals: helpers ----------------------------------------------------------------

    @property
    def _listening(self) -> bool:
        return self._thread.is_alive()

    def _listen(self, host: str, port: int) -> None:
        self._server = _Server((host, port), self)  # reuses the address of an earlier one
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def _stop_listening(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _add_faults(self, faults: Iterable[_Fault]) -> None:
        with self._cond:
            self._faults.extend(faults)

    def _find(self, kind: str, sid: str) -> _Stored | None:
        with self._cond:
            found = (s for s in self._stored if s.kind == kind and s.resource["sid"] == sid)
            return next(found, None)

    def _snapshot(self, kind: str) -> list[Resource]:
        with self._cond:
            return [dict(s.resource) for s in self._stored if s.kind == kind]

    def _usual_sender(self) -> str:
        senders = collections.Counter(m["from"] for m in self.messages if m["from"])
        return senders.most_common(1)[0][0] if senders else lifecycle.DEFAULT_SENDER

    def _wait(self, what: str, get: Callable[[], list[_T]], n: int, timeout: float) -> list[_T]:
        with self._cond:
            if self._cond.wait_for(lambda: len(get()) >= n, timeout):
                return get()
            have = get()
            recent = [f"{r.method} {r.path} -> {r.status}" for r in self._requests[-10:]]
        raise AssertionError(
            f"waited {timeout}s for {what}, got {len(have)}: {have!r}\n"
            f"last requests received: {recent or 'none'}\n"
            f"callback errors: {[a.error for a in self._callbacks if not a.ok] or 'none'}"
        )
