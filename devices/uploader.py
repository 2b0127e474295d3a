"""Sends the outbox to the service: POST /v1/readings in batches, retrying until it is heard.

A reading leaves the outbox only when the service answered `accepted` or `duplicate` for it.
One it answers `rejected` moves to the dead letters with the reason. Network errors, timeouts,
429 and 5xx are retried with exponential backoff and full jitter; a batch the service refuses
as a whole is split until the reading at fault is found.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from devices.outbox import Outbox, PendingReading

log = logging.getLogger(__name__)

RETRYABLE_STATUS = {408, 425, 429, 500, 502, 503, 504}
Sleep = Callable[[float], Awaitable[None]]


class ServiceUnavailable(Exception):
    """The service could not be reached or asked us to come back later."""


class TokenRefused(Exception):
    """The service does not accept the gateway's token: an operator must act."""


@dataclass
class Backoff:
    """Exponential backoff with full jitter: wait a random time up to base * 2^failures."""

    base_seconds: float = 1.0
    max_seconds: float = 300.0
    rng: random.Random = field(default_factory=random.Random)
    failures: int = 0

    def next_delay(self) -> float:
        """How long to wait after one more failure."""
        ceiling = min(self.max_seconds, self.base_seconds * 2**self.failures)
        self.failures += 1
        return self.rng.uniform(0, ceiling)

    def reset(self) -> None:
        """Forget the failures: the service answered."""
        self.failures = 0


@dataclass
class UploadReport:
    """What one pass over the outbox achieved."""

    delivered: int = 0
    refused: int = 0


class Uploader:
    """Uploads an outbox to one Linli service with one gateway token."""

    def __init__(
        self,
        outbox: Outbox,
        client: httpx.AsyncClient,
        token: str,
        *,
        batch_size: int = 500,
        backoff: Backoff | None = None,
        sleep: Sleep = asyncio.sleep,
        heartbeat_seconds: float = 300.0,
    ) -> None:
        self.outbox = outbox
        self.heartbeat_seconds = heartbeat_seconds
        self._last_contact: float | None = None
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"}
        self.batch_size = batch_size
        self.backoff = backoff or Backoff()
        self.sleep = sleep

    async def upload_pending(self) -> UploadReport:
        """Send everything pending now; raise ServiceUnavailable when the service is not there."""
        report = UploadReport()
        while batch := self.outbox.next_batch(self.batch_size):
            await self._send(batch, report)
        return report

    async def run(self, wake: asyncio.Event, *, idle_seconds: float = 30.0) -> None:
        """Upload forever: whenever readings wait, backing off while the service is away."""
        while True:
            try:
                report = await self.upload_pending()
            except ServiceUnavailable as exc:
                _raise_if_cancelled()
                delay = self.backoff.next_delay()
                log.warning("upload failed (%s); next try in %.0f s", exc, delay)
                await self.sleep(delay)
                continue
            except TokenRefused as exc:
                log.error("%s", exc)
                await self.sleep(self.backoff.max_seconds)
                continue
            self.backoff.reset()
            if report.delivered or report.refused:
                log.info("uploaded %d readings, %d refused", report.delivered, report.refused)
            else:
                await self.heartbeat_if_quiet()
            wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout=idle_seconds)
            _raise_if_cancelled()

    async def heartbeat_if_quiet(self) -> None:
        """Tell the service the gateway is alive when it has not heard from it for a while.

        Without it, a home where nobody measures would look like a home whose gateway is off.
        """
        now = time.monotonic()
        if self._last_contact is not None and now - self._last_contact < self.heartbeat_seconds:
            return
        try:
            response = await self.client.post("/v1/heartbeat", headers=self.headers)
        except httpx.TransportError as exc:
            log.info("heartbeat not delivered: %s", exc)
            return
        if response.status_code == 204:
            self._last_contact = now
        else:
            log.warning("heartbeat refused: %s", _reason(response))

    async def _send(
        self, batch: list[PendingReading], report: UploadReport, *, with_devices: bool = True
    ) -> None:
        body: dict[str, Any] = {"readings": [p.item for p in batch]}
        devices = self.outbox.device_reports({str(p.item["device_serial"]) for p in batch})
        if devices and with_devices:
            body["devices"] = devices
        response = await self._post(body)
        if response.status_code == 200:
            self._settle(batch, response.json()["results"], report)
        elif response.status_code == 413 and len(batch) > 1:
            self.batch_size = max(1, len(batch) // 2)
            log.info("batch of %d too large for the service; now %d", len(batch), self.batch_size)
        elif 400 <= response.status_code < 500 and "devices" in body:
            # Device metadata is only a report: the readings must not wait for it.
            log.warning("service refused the device reports: %s", _reason(response))
            await self._send(batch, report, with_devices=False)
        elif 400 <= response.status_code < 500 and len(batch) > 1:
            # Refused as a whole: split to find the reading at fault, keep the others going.
            middle = len(batch) // 2
            await self._send(batch[:middle], report)
            await self._send(batch[middle:], report)
        elif 400 <= response.status_code < 500:
            self.outbox.settle([], {batch[0].id: _reason(response)})
            report.refused += 1
        else:  # pragma: no cover - every status is handled in _post or above
            raise ServiceUnavailable(f"unexpected answer {response.status_code}")

    async def _post(self, body: dict[str, Any]) -> httpx.Response:
        try:
            response = await self.client.post("/v1/readings", json=body, headers=self.headers)
        except httpx.TransportError as exc:
            raise ServiceUnavailable(f"{type(exc).__name__}: {exc}") from exc
        if response.status_code in RETRYABLE_STATUS or response.status_code >= 500:
            raise ServiceUnavailable(f"service answered {response.status_code}")
        if response.status_code in (401, 403):
            raise TokenRefused(f"the service refuses this gateway's token: {_reason(response)}")
        self._last_contact = time.monotonic()
        return response

    def _settle(
        self, batch: list[PendingReading], results: list[dict[str, Any]], report: UploadReport
    ) -> None:
        delivered, refused = [], {}
        for pending, result in zip(batch, results, strict=True):
            if result["status"] in ("accepted", "duplicate"):
                delivered.append(pending.id)
            else:
                refused[pending.id] = str(result.get("reason") or "rejected")
        self.outbox.settle(delivered, refused)
        report.delivered += len(delivered)
        report.refused += len(refused)


def _raise_if_cancelled() -> None:
    # A cancellation that lands while a connection is being opened can come out of the
    # network stack as a connection error; the task still counts as cancelled, so honour it.
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


def _reason(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail")
    except ValueError:
        detail = None
    return f"{response.status_code}: {detail or response.text[:200]}"
