"""Rate limits on bearer tokens: refused tokens per client, and requests per token.

Tokens carry 256 random bits, so guessing one is hopeless; the limit on refused tokens still
stops a client that tries (or a gateway left with a revoked token in a tight loop) from costing
a database look-up per attempt, and shows in the log. Past it, the client gets 429 for
everything that needs a token, good tokens included, until the window has passed. The limit
per token stops a runaway client without touching honest use: a gateway back from a week
offline sends a few batches back to back, the busiest home a few a second.

Counts live in this process's memory: one `linli serve` process serves a deployment, and a
restart forgets them, which errs on the side of the honest client.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import time

import limits
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from service.errors import TooManyRequests

log = logging.getLogger(__name__)

UNKNOWN_CLIENT = "unknown"


def client_key(address: str | None) -> str:
    """Who a limit counts: the IPv4 address, or the IPv6 /64 network (one home or phone is
    given a whole /64, so counting its single addresses would count nothing)."""
    if not address:
        return UNKNOWN_CLIENT
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if parsed.version == 6:
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)


class Throttle:
    """The token limits of one app: `check_client` and `count_request` before a token is
    looked up, `refused` after a look-up found nothing."""

    def __init__(self, failure_limit: str, request_limit: str) -> None:
        self._failures = limits.parse(failure_limit)
        # An exact moving window: its keys are the clients that presented a bad token lately,
        # a handful, so limits' in-memory storage stays small.
        self._refusals = MovingWindowRateLimiter(MemoryStorage())
        self._uses = WindowCounts(limits.parse(request_limit))

    def check_client(self, client: str | None) -> None:
        """Raise TooManyRequests while the client has used up its refused tokens."""
        key = client_key(client)
        if not self._refusals.test(self._failures, "refused", key):
            stats = self._refusals.get_window_stats(self._failures, "refused", key)
            wait = _seconds_until(stats.reset_time)
            raise TooManyRequests(
                f"too many unknown or revoked tokens from this address; try again in {wait} s",
                wait,
            )

    def refused(self, client: str | None) -> None:
        """Count an unknown or revoked token the client presented."""
        key = client_key(client)
        self._refusals.hit(self._failures, "refused", key)
        if not self._refusals.test(self._failures, "refused", key):
            log.warning(
                "client %s presented %d unknown or revoked tokens within %d s: refused until"
                " the window has passed",
                key,
                self._failures.amount,
                self._failures.get_expiry(),
            )

    def count_request(self, token_key: str) -> None:
        """Count a request made with a token (by its hash, never the token itself); raise
        TooManyRequests past the limit."""
        wait = self._uses.hit(token_key)
        if wait is not None:
            raise TooManyRequests(
                f"more than {self._uses.item} requests with this token; try again in {wait} s",
                wait,
            )


class WindowCounts:
    """Requests per key in fixed windows, every count forgotten when its window ends.

    Every token in use is a key here, tens of thousands at a city's scale. limits' in-memory
    storage forgets expired keys on a thread that walks all of them every 10 ms, which at that
    size takes a third of a core; these counts cost one dict update a request, and the memory
    of one window's keys.
    """

    def __init__(self, item: limits.RateLimitItem) -> None:
        self.item = item
        self._seconds = item.get_expiry()
        self._started = time.monotonic()
        self._counts: dict[str, int] = {}

    def hit(self, key: str) -> int | None:
        """Count one request; None while within the limit, else the seconds until the window
        ends."""
        now = time.monotonic()
        if now - self._started >= self._seconds:
            self._started, self._counts = now, {}
        used = self._counts.get(key, 0) + 1
        self._counts[key] = used
        if used <= self.item.amount:
            return None
        return max(1, math.ceil(self._started + self._seconds - now))


def _seconds_until(at: float) -> int:
    """Whole seconds from now until `at`, at least 1 (Retry-After counts whole seconds)."""
    return max(1, math.ceil(at - time.time()))
