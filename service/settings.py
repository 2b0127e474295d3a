"""The one settings object, read from LINLI_* environment variables once at start-up."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Literal

import limits
import platformdirs
import psycopg
from psycopg.conninfo import conninfo_to_dict
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

LogFormat = Literal["text", "json"]
LogLevel = Literal["debug", "info", "warning", "error"]


def default_data_dir() -> Path:
    """The platform's per-user data directory for Linli (e.g. ~/.local/share/linli)."""
    return Path(platformdirs.user_data_dir("linli", appauthor=False))


class Settings(BaseSettings):
    """Linli configuration. Every field is set by the environment variable LINLI_<NAME>."""

    model_config = SettingsConfigDict(env_prefix="LINLI_", env_file=None, extra="ignore")

    database_url: str | None = Field(
        default=None,
        description="PostgreSQL >= 15 to use (a libpq URL or key=value string); unset means"
        " Linli runs its own embedded server.",
    )
    data_dir: Path = Field(
        default_factory=default_data_dir,
        description="Where the embedded PostgreSQL keeps its data, among others.",
    )
    host: str = Field(default="127.0.0.1", description="Address the HTTP API listens on.")
    port: int = Field(default=8000, ge=1, le=65535, description="Port the HTTP API listens on.")
    database_name: str = Field(
        default="linli", description="Database created inside the embedded server."
    )
    pool_min_size: int = Field(default=1, ge=0)
    pool_max_size: int = Field(default=10, ge=1)
    pool_wait_seconds: float = Field(
        default=10.0,
        gt=0,
        description="How long a request waits for a database connection before it is answered"
        " 503 (PostgreSQL away, or every connection busy); below a gateway's 30 s timeout.",
    )
    max_batch_readings: int = Field(
        default=1000, ge=1, description="Most readings one POST /v1/readings may carry."
    )
    max_body_bytes: int = Field(
        default=2_000_000, ge=1024, description="Largest request body accepted, in bytes."
    )
    clock_skew_seconds: float = Field(
        default=300.0,
        ge=0,
        description="A reading timed further than this in the future is flagged as a clock"
        " problem.",
    )
    run_worker: bool = Field(
        default=True,
        description="Run the background jobs (detection) inside `linli serve`; turn off when"
        " separate `linli worker` processes run them.",
    )
    migrate_on_start: bool = Field(
        default=True, description="Apply pending migrations when the service starts."
    )
    twilio_account_sid: str | None = Field(
        default=None, description="Twilio account SID; without it messages go to the log."
    )
    twilio_auth_token: SecretStr | None = Field(
        default=None, description="Twilio auth token; also checks the signature of callbacks."
    )
    twilio_from: str | None = Field(
        default=None, description="The Twilio number messages and calls come from (E.164)."
    )
    twilio_messaging_service_sid: str | None = Field(
        default=None, description="A Twilio messaging service to send SMS through instead."
    )
    twilio_base_url: str | None = Field(
        default=None,
        description="Another host for Twilio's REST API (a proxy, or a local fake in tests).",
    )
    public_url: str | None = Field(
        default=None,
        description="The address Twilio reaches this service at, for delivery callbacks and"
        " key presses (e.g. https://linli.example.org); without it neither is asked for.",
    )
    send_retry_minutes: float = Field(
        default=10.0,
        gt=0,
        description="How long one message is retried (429, 5xx, timeouts) before the next"
        " channel or person is tried.",
    )
    digest_hour: int = Field(
        default=8, ge=0, le=23, description="Local hour of doctors' daily digest of warnings."
    )
    send_timeout_seconds: float = Field(
        default=10.0, gt=0, description="How long one request to the SMS provider may take."
    )
    log_level: LogLevel = Field(
        default="info",
        description="The least serious log records `linli serve` and `linli worker` write:"
        " debug (everything, for hunting a problem), info, warning or error.",
    )
    bearer_failure_limit: str = Field(
        default="20 per 15 minutes",
        description="Unknown or revoked bearer tokens one client address may present; past"
        " it, that address gets 429 (even with a good token) until the window has passed.",
    )
    bearer_request_limit: str = Field(
        default="6000 per minute",
        description="Requests one bearer token may make; past it, 429 until the window has"
        " passed. Far above what a gateway or a dashboard needs: it stops runaway clients.",
    )
    trusted_proxies: str = Field(
        default="127.0.0.1",
        description="Addresses (comma-separated, or networks such as 172.16.0.0/12, or *) of"
        " reverse proxies whose X-Forwarded-For names the real client: the limits on"
        " sign-in and tokens count per client address.",
    )
    log_format: LogFormat = Field(
        default="text",
        description="How `linli serve` and `linli worker` write their log: text lines, or one"
        " JSON object a line (time, level, logger, message, exception).",
    )
    # Retention (service.privacy.retention); unset or empty keeps for good.
    retain_readings_days: int | None = Field(
        default=None,
        ge=30,
        description="Days readings are kept, with the summaries made of them; unset keeps"
        " them for good. At least 30: the pages show the last 30 days.",
    )
    retain_messages_days: int | None = Field(
        default=None,
        ge=1,
        description="Days the words and phone numbers of sent messages are kept (the record"
        " that a message went stays); unset keeps them for good.",
    )
    retain_audit_days: int | None = Field(
        default=None,
        ge=1,
        description="Days entries of the audit trail are kept; unset keeps them for good.",
    )
    retain_sign_in_failures_days: int = Field(
        default=90, ge=1, description="Days failed sign-ins (name and address) are kept."
    )
    retain_expired_sessions_days: int = Field(
        default=7, ge=0, description="Days a web session is kept after it expired."
    )

    @field_validator(
        "retain_readings_days", "retain_messages_days", "retain_audit_days", mode="before"
    )
    @classmethod
    def _blank_keeps_for_good(cls, value: object) -> object:
        # An empty variable (a compose file passing an unset one through) means "keep".
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("database_url")
    @classmethod
    def _parseable_conninfo(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        try:
            conninfo_to_dict(value)
        except psycopg.ProgrammingError as exc:
            # psycopg quotes the part it could not read, which may be the password: the
            # message goes to the log, so it says what is wrong without it.
            reason = re.sub(r'"[^"]*"', '"…"', str(exc))
            raise ValueError(f"not a PostgreSQL connection string: {reason}") from None
        return value

    @field_validator("log_format", "log_level", mode="before")
    @classmethod
    def _lower_case(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("bearer_failure_limit", "bearer_request_limit")
    @classmethod
    def _rate_limit(cls, value: str) -> str:
        try:
            limits.parse(value)
        except ValueError:
            raise ValueError(
                f"not a rate limit: {value!r} (write e.g. '20 per 15 minutes')"
            ) from None
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies(cls, value: str) -> str:
        # uvicorn would take a mistyped address for a name that never matches, and every
        # client behind the proxy would then share the proxy's limits.
        for entry in (part.strip() for part in value.split(",")):
            if entry == "*":
                continue
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(
                    f"not an address or network: {entry!r} (write e.g. '127.0.0.1,"
                    " 172.16.0.0/12', or '*')"
                ) from None
        return value

    @field_validator(
        "twilio_account_sid",
        "twilio_auth_token",
        "twilio_from",
        "twilio_messaging_service_sid",
        "twilio_base_url",
        "public_url",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        # An empty variable (a compose file passing an unset one through) means "not set".
        return None if isinstance(value, str) and not value.strip() else value

    @property
    def twilio_enabled(self) -> bool:
        """True when Twilio is configured: an account, its token and a sender."""
        sender = self.twilio_from or self.twilio_messaging_service_sid
        return bool(self.twilio_account_sid and self.twilio_auth_token and sender)

    @property
    def embedded(self) -> bool:
        """True when Linli runs its own PostgreSQL instead of the one in database_url."""
        return self.database_url is None
